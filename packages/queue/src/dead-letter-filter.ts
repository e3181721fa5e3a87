import { parseDuration } from '@leadrelay/core';
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

/** A filter's text as a person or a script gives it (CLI flags, query parameters, a JSON body). */
export interface DeadLetterFilterInput {
  since?: unknown;
  until?: unknown;
  code?: unknown;
  offer?: unknown;
}

/** A `since`/`until`/`code`/`offer` value that cannot be read; `field` names it as the caller spelled it. */
export class InvalidDeadLetterFilterError extends Error {
  readonly code = 'LR_INVALID_FILTER';
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'InvalidDeadLetterFilterError';
  }
}

/**
 * Reads the filter fields: times are a duration ago (`1d`) or an ISO-8601 time; code and offer are non-empty text.
 * `name` spells each field as the caller's surface does (`--since` for the CLI, `since` for the API).
 */
export function deadLetterFilterFrom(input: DeadLetterFilterInput, now = Date.now(), name: (field: string) => string = (f) => f): Omit<DeadLetterFilter, 'destination' | 'leadId'> {
  const text = (field: keyof DeadLetterFilterInput): string | undefined => {
    const v = input[field];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw new InvalidDeadLetterFilterError(name(field), 'must be a string');
    return v;
  };
  const time = (field: 'since' | 'until'): number | undefined => {
    const v = text(field);
    if (v === undefined) return undefined;
    const ago = parseDuration(v);
    if (ago !== undefined) return now - ago;
    const at = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : Number.NaN;
    if (Number.isNaN(at)) throw new InvalidDeadLetterFilterError(name(field), `'${v}' is neither a duration like 1d nor an ISO time like 2026-12-01T00:00:00Z`);
    return at;
  };
  const since = time('since');
  const until = time('until');
  const code = text('code');
  const offer = text('offer');
  return { ...(since === undefined ? {} : { since }), ...(until === undefined ? {} : { until }), ...(code ? { code } : {}), ...(offer ? { offer } : {}) };
}
