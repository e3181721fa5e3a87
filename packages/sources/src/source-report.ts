import type { Lead } from '@leadrelay/core';

/** One lead as the source itself reports it, for reconciliation. */
export interface ReportedLead {
  /** The source's own key (a RowKey, a referral id). */
  key: string;
  /** The lead id it becomes, or undefined when it cannot become a lead. */
  leadId?: string;
  /** The source's timestamp of it, normalised. */
  at: string;
  offer?: string;
  /** The lead it maps to: what the source's `match` is checked against (a lead it filters out is expected not to arrive). */
  lead?: Lead;
  /** Why it is not a lead. */
  problem?: string;
}
