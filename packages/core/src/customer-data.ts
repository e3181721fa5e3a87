import type { Lead } from './lead.js';

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

/**
 * A value as operators see it by default: its first character and, for an email, the domain (which
 * says which company without saying who). `--show-pii` / the dashboard toggle show values as they are.
 */
export function maskValue(value: string | undefined, kind: 'email' | 'phone' | 'text' = 'text'): string | undefined {
  if (value === undefined || value === '') return value;
  if (kind === 'email') {
    const at = value.lastIndexOf('@');
    return at > 0 ? `${value[0]}•••@${value.slice(at + 1)}` : '•••';
  }
  if (kind === 'phone') return value.length > 2 ? `•••${value.slice(-2)}` : '•••';
  return `${value[0]}•••`;
}

/**
 * The lead with its personal data masked (names, email, phone, title, description, extra values);
 * company and country stay: they are about the account, not the person.
 */
export function maskLead<T extends Pick<Lead, 'customer' | 'description' | 'extra'>>(lead: T): T {
  const c = lead.customer;
  const customer = {
    ...c,
    ...(c.firstName ? { firstName: maskValue(c.firstName) } : {}),
    ...(c.lastName ? { lastName: maskValue(c.lastName) } : {}),
    ...(c.email ? { email: maskValue(c.email, 'email') } : {}),
    ...(c.phone ? { phone: maskValue(c.phone, 'phone') } : {}),
    ...(c.title ? { title: maskValue(c.title) } : {}),
  };
  const extra = lead.extra ? Object.fromEntries(Object.entries(lead.extra).map(([k, v]) => [k, typeof v === 'string' ? maskValue(v) ?? v : v])) : undefined;
  return { ...lead, customer, ...(lead.description ? { description: maskValue(lead.description) } : {}), ...(extra ? { extra } : {}) };
}
