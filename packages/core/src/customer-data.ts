import type { Lead } from '@leadrelay/core';

/** What replaces a customer value found in an alert's text. */
export const CUSTOMER_DATA_MARK = '[customer data]';

/** Shorter values are too likely to be ordinary words in an error message. */
const MIN_LENGTH = 3;

/**
 * Removes a lead's personal values from text that leaves LeadRelay in an alert: destinations often
 * quote the offending value in a rejection ("Email ada@contoso.com is invalid"). Values match
 * case-insensitively as whole words; the country is not personal and stays.
 */
export function scrubCustomerData(text: string, lead: Pick<Lead, 'customer' | 'description' | 'extra'>): string {
  const { firstName, lastName, email, phone, company, title } = lead.customer;
  const values = [firstName, lastName, email, phone, company, title, lead.description,
    ...Object.values(lead.extra ?? {}).map((v) => (typeof v === 'string' ? v : undefined))];
  if (firstName && lastName) values.push(`${firstName} ${lastName}`);
  const unique = [...new Set(values.map((v) => v?.trim()).filter((v): v is string => !!v && v.length >= MIN_LENGTH))]
    .sort((a, b) => b.length - a.length);
  let out = text;
  for (const v of unique) {
    out = out.replace(new RegExp(`(?<![\\p{L}\\p{N}])${escapeRegExp(v)}(?![\\p{L}\\p{N}])`, 'giu'), CUSTOMER_DATA_MARK);
  }
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
