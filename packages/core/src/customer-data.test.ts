import { describe, expect, it } from 'vitest';
import { CUSTOMER_DATA_MARK, maskLead, scrubCustomerData } from './customer-data.js';

const lead = {
  customer: { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@contoso.com', phone: '+44 20 7946 0000', company: 'Analytical Engines', title: 'CTO', country: 'GB' },
  description: 'Wants a demo next week',
  extra: { crmRef: 'ref-77812', score: 42 },
};

describe('scrubCustomerData', () => {
  it('removes every personal value, case-insensitively, as whole words', () => {
    const text = 'Rejected ADA@CONTOSO.COM (Ada Lovelace, Analytical Engines, +44 20 7946 0000, ref-77812): "Wants a demo next week"';
    const out = scrubCustomerData(text, lead);
    for (const v of ['ada@contoso.com', 'Ada', 'Lovelace', 'Analytical', '7946', 'ref-77812', 'demo']) expect(out.toLowerCase()).not.toContain(v.toLowerCase());
    expect(out).toContain(CUSTOMER_DATA_MARK);
    expect(out.startsWith('Rejected ')).toBe(true);
  });

  it('leaves ordinary words that merely contain a value, short values and the country', () => {
    expect(scrubCustomerData('Adapter failed in GB for the CTO', lead)).toBe(`Adapter failed in GB for the ${CUSTOMER_DATA_MARK}`);
    expect(scrubCustomerData('x', { customer: { firstName: 'Al' } })).toBe('x');
    expect(scrubCustomerData('Al said no', { customer: { firstName: 'Al' } })).toBe('Al said no');
  });

  it('treats values as text, not patterns', () => {
    expect(scrubCustomerData('name (a+b)* is invalid', { customer: { lastName: '(a+b)*' } })).toBe(`name ${CUSTOMER_DATA_MARK} is invalid`);
  });
});

describe('maskLead', () => {
  it('masks names, email and phone but keeps the company, the country and the email domain', () => {
    const lead = { customer: { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@contoso.com', phone: '+1 555 0199', company: 'Contoso', country: 'US' }, description: 'call me' };
    const masked = maskLead(lead);
    expect(masked.customer).toEqual({ firstName: 'A•••', lastName: 'L•••', email: 'a•••@contoso.com', phone: '•••99', company: 'Contoso', country: 'US' });
    expect(masked.description).toBe('c•••');
    expect(JSON.stringify(masked)).not.toMatch(/Lovelace|ada@|0199/);
  });
});
