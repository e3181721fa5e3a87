import { maskLead, scrubCustomerData, type Lead } from '@leadrelay/core';
import type { DeadLetter, LeadStatus } from './delivery-state.js';
import type { LeadSummary } from './lead-index.js';

/**
 * What operators see by default (stats, dlq list, status, the ops API and dashboard): a destination's
 * error texts often quote the lead's values ("Email ada@contoso.com is invalid"), so they are scrubbed
 * with the lead's own values, and the lead itself is masked. `--show-pii` / the dashboard toggle skip this.
 */
export function maskDeadLetter(dl: DeadLetter): DeadLetter {
  const scrub = (t: string) => scrubCustomerData(t, dl.lead);
  return {
    ...dl, lastError: scrub(dl.lastError), remediation: scrub(dl.remediation),
    errors: dl.errors.map((e) => ({ ...e, message: scrub(e.message), remediation: scrub(e.remediation) })),
    lead: maskLead(dl.lead),
  };
}

/** A lead's status with every error text scrubbed of the lead's values (see maskDeadLetter). */
export function maskStatus(status: LeadStatus, lead: Lead | undefined): LeadStatus {
  if (!lead) return status;
  const scrub = (t: string | undefined) => (t === undefined ? t : scrubCustomerData(t, lead));
  const deliveries = Object.fromEntries(Object.entries(status.deliveries).map(([d, r]) => [d, {
    ...r, ...(r.lastError ? { lastError: scrub(r.lastError) } : {}), ...(r.remediation ? { remediation: scrub(r.remediation) } : {}),
  }]));
  return { ...status, deliveries, timeline: status.timeline.map((t) => (t.error ? { ...t, error: scrub(t.error)! } : t)) };
}

/** A lead search hit with its customer's values masked (see maskDeadLetter). */
export function maskLeadSummary(summary: LeadSummary): LeadSummary {
  return summary.customer ? { ...summary, customer: maskLead({ customer: summary.customer }).customer } : summary;
}
