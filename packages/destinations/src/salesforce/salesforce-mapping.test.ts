import { describe, expect, it } from 'vitest';
import type { Lead } from '@leadrelay/core';
import { LEAD_SOURCE_MAX_LENGTH, WEB_TO_LEAD_LENGTHS, countryField, restLeadRecord, salesforceLeadSource, webToLeadForm } from './salesforce-mapping.js';

const lead: Lead = {
  id: 'lead-1', source: 'AzureMarketplace', action: 'INS', offer: 'contoso.widget-pro',
  customer: { firstName: 'Zoë', lastName: 'Lovelace', email: 'zoe@example.com', country: 'USA', company: 'Contoso' },
  description: 'Trial', createdAt: '2024-05-01T10:00:00.000Z', testLead: false,
};
const input = { placeholder: '[not provided]', countryPicklists: true };
const REST = { code: 'CountryCode', text: 'Country' };

describe('countryField', () => {
  it('with picklists: alpha-2, alpha-3 and English names become the ISO code', () => {
    expect(countryField('gb', true, REST, 'Salesforce Lead')).toEqual({ fields: { CountryCode: 'GB' } });
    expect(countryField('DEU', true, REST, 'Salesforce Lead')).toEqual({ fields: { CountryCode: 'DE' } });
    expect(countryField(' United Kingdom ', true, REST, 'Salesforce Lead')).toEqual({ fields: { CountryCode: 'GB' } });
  });

  it('with picklists: text that is no known country is left out, with a warning naming the field and not the value', () => {
    const r = countryField('Europe', true, REST, 'Salesforce Lead');
    expect(r.fields).toEqual({});
    expect(r.warning).toMatch(/^Salesforce Lead field Country left out: .*FIELD_INTEGRITY_EXCEPTION/);
    expect(r.warning).not.toContain('Europe');
    // ZZ looks like a code but is none.
    expect(countryField('ZZ', true, REST, 'x').fields).toEqual({});
  });

  it('without picklists: the text as received; blank: nothing', () => {
    expect(countryField('Europe', false, REST, 'x')).toEqual({ fields: { Country: 'Europe' } });
    expect(countryField('  ', true, REST, 'x')).toEqual({ fields: {} });
    expect(countryField(undefined, true, REST, 'x')).toEqual({ fields: {} });
  });
});

describe('Salesforce mappings', () => {
  it('REST: API names, placeholder for a missing Company, country as CountryCode, no warnings', () => {
    const { record, warnings } = restLeadRecord({ ...lead, customer: { ...lead.customer, company: ' ' } }, input);
    expect(record).toEqual({
      FirstName: 'Zoë', LastName: 'Lovelace', Email: 'zoe@example.com', CountryCode: 'US', Company: '[not provided]',
      Description: 'Trial', LeadSource: 'AzureMarketplace-INS|contoso.widget-pro',
    });
    expect(warnings).toEqual([]);
  });

  it('Web-to-Lead: oid and encoding first, country_code; an unknown country is left out with a warning', () => {
    const ok = webToLeadForm(lead, '00D5g000004abcd', input);
    expect(ok.record.slice(0, 2)).toEqual([['oid', '00D5g000004abcd'], ['encoding', 'UTF-8']]);
    expect(Object.fromEntries(ok.record)).toMatchObject({ country_code: 'US', last_name: 'Lovelace', lead_source: 'AzureMarketplace-INS|contoso.widget-pro' });
    const odd = webToLeadForm({ ...lead, customer: { ...lead.customer, country: 'EMEA' } }, '00D5g000004abcd', input);
    expect(Object.fromEntries(odd.record)).not.toHaveProperty('country');
    expect(Object.fromEntries(odd.record)).not.toHaveProperty('country_code');
    expect(odd.warnings).toHaveLength(1);
    expect(odd.warnings[0]).toMatch(/^Salesforce Web-to-Lead field country left out/);
  });

  it('LeadSource: the mapped value, else Source-Action|Offer cut to the picklist length', () => {
    expect(salesforceLeadSource(lead, { AzureMarketplace: 'Web' })).toBe('Web');
    const long = salesforceLeadSource({ ...lead, offer: 'x'.repeat(400) });
    expect(long).toHaveLength(LEAD_SOURCE_MAX_LENGTH);
    expect(WEB_TO_LEAD_LENGTHS.email).toBe(80);
  });
});
