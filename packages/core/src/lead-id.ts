import { hash } from 'node:crypto';
import type { Lead } from './lead.js';

export const LEAD_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * A stable id from what the lead says (not when it arrived), so a client that retries a post
 * without an id produces the same lead. Prefixed so it is never all digits (BullMQ rejects those).
 */
export function contentLeadId(lead: Omit<Lead, 'id' | 'createdAt' | 'testLead'> & { createdAt?: string }): string {
  const c = lead.customer;
  const parts = [
    lead.source, lead.action, lead.offer, lead.offerTitle, lead.description,
    c.firstName, c.lastName, c.email?.toLowerCase(), c.phone, c.country, c.company, c.title,
    lead.createdAt, lead.extra ? JSON.stringify(sortKeys(lead.extra)) : undefined,
  ].map((v) => (v ?? '').trim());
  // JSON of the list: no value can imitate a field boundary, so different leads never share an id.
  return 'h' + hash('sha256', JSON.stringify(parts), 'hex').slice(0, 32);
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}
