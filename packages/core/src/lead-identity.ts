import { hash } from 'node:crypto';
import type { Lead } from './lead.js';

/** Lead fields that can make up a lead identity key. */
export type IdentityField = 'email' | 'offer' | 'action' | 'source';

export interface LeadIdentityOptions {
  /** Fields of the key (default email, offer, action). The email is trimmed and lower-cased. */
  fields?: readonly IdentityField[];
  /**
   * `merge-window`: the action is left out, so one customer's Contact me, Get it now and Create for
   * one offer are one lead (Microsoft's own advice for its lead types). Default `off`.
   */
  customer?: 'off' | 'merge-window';
}

/**
 * The key under which the same customer action arriving from several sources (webhook, table, referral)
 * is one lead, or undefined for a lead that has no email (nothing identifies its person) or is one of
 * Microsoft's validation leads (they all name the same test customer). Prefixed `i` like content ids
 * are prefixed `h`, so the two never meet.
 */
export function leadIdentityKey(lead: Lead, options: LeadIdentityOptions = {}): string | undefined {
  const email = lead.customer.email?.trim().toLowerCase();
  if (!email || lead.testLead) return undefined;
  const fields = (options.fields ?? ['email', 'offer', 'action']).filter((f) => !(f === 'action' && options.customer === 'merge-window'));
  const value: Record<IdentityField, string> = { email, offer: lead.offer.trim().toLowerCase(), action: lead.action.trim().toLowerCase(), source: lead.source.trim().toLowerCase() };
  const parts = [...new Set(fields)].sort().map((f) => [f, value[f]]);
  return 'i' + hash('sha256', JSON.stringify(parts), 'hex').slice(0, 32);
}
