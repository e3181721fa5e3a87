import { globToRegExp } from '@leadrelay/config';
import type { DeadLetter } from './delivery-state.js';

/** Which dead deliveries `dlq list|replay|purge` (and the ops API) act on; every given field must match. */
export interface DeadLetterFilter {
  /** Only this destination. Default: every configured one. */
  destination?: string;
  /** Only this lead. */
  leadId?: string;
  /** Dead-lettered at or after this time (ms since the epoch). */
  since?: number;
  /** Dead-lettered before this time (ms since the epoch). */
  until?: number;
  /** The last error's code: LeadRelay's (`LR_PAYLOAD_REJECTED`) or the destination's own (`FIELD_INTEGRITY_EXCEPTION`, `1006`). */
  code?: string;
  /** The lead's offer, as a glob (`contoso.*`). */
  offer?: string;
}

/** The part of the filter the failed set's order cannot answer (it is scored by the time each job failed). */
export function matchesDeadLetter(dl: DeadLetter, filter: DeadLetterFilter): boolean {
  if (filter.code) {
    const last = dl.errors.at(-1);
    const want = filter.code.toLowerCase();
    if (last?.code.toLowerCase() !== want && last?.destinationCode?.toLowerCase() !== want) return false;
  }
  if (filter.offer && !globToRegExp(filter.offer).test(dl.lead.offer)) return false;
  return true;
}
