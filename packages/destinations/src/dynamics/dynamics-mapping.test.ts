import type { Lead } from '@leadrelay/core';
import { describe, expect, it } from 'vitest';
import { truncate } from '../shared/index.js';
import { mapLeadToDynamics as mapWithWarnings } from './dynamics-mapping.js';

const mapLeadToDynamics = (...args: Parameters<typeof mapWithWarnings>) => mapWithWarnings(...args).record;

const lead: Lead = {
  id: 'lead-1', source: 'AzureMarketplace', action: 'INS', offer: 'contoso.widget-pro', offerTitle: 'Widget Pro',
  customer: { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@contoso.com', phone: '+44 20 7946 0000', country: 'GB', company: 'Contoso', title: 'CTO' },
  description: 'Wants a demo', createdAt: '2024-05-01T10:00:00.000Z', testLead: false,
};

describe('mapLeadToDynamics (the documented Dynamics mapping)', () => {
  it('maps every customer field, the lead source, description and leadsourcecode', () => {
    expect(mapLeadToDynamics(lead, { leadSourceCode: 8 }, '[not provided]')).toEqual({
      firstname: 'Ada', lastname: 'Lovelace', emailaddress1: 'ada@contoso.com', telephone1: '+44 20 7946 0000',
      address1_country: 'GB', companyname: 'Contoso', jobtitle: 'CTO',
      subject: 'AzureMarketplace-INS|contoso.widget-pro', description: 'Wants a demo', leadsourcecode: 8,
    });
  });

  it('fills lastname with the placeholder and leaves other absent fields out', () => {
    const body = mapLeadToDynamics({ ...lead, customer: { email: 'x@y.z', lastName: '  ' }, description: undefined }, { leadSourceCode: 3 }, '[not provided]');
    expect(body).toEqual({ lastname: '[not provided]', emailaddress1: 'x@y.z', subject: 'AzureMarketplace-INS|contoso.widget-pro', leadsourcecode: 3 });
  });

  it('applies fields: overrides and additions after the defaults, typed', () => {
    const body = mapLeadToDynamics(lead, { leadSourceCode: 8, fields: { subject: 'Marketplace: {{offerTitle}}', new_offer: '{{offer}}', leadsourcecode: 10, new_flag: true } }, 'x');
    expect(body).toMatchObject({ subject: 'Marketplace: Widget Pro', new_offer: 'contoso.widget-pro', leadsourcecode: 10, new_flag: true });
  });

  it('truncates to the lead columns\' max lengths instead of failing', () => {
    const long = (n: number) => 'x'.repeat(n);
    const body = mapLeadToDynamics({ ...lead, customer: { lastName: long(80), title: long(150), country: long(120), company: long(101) }, description: long(2500) }, { leadSourceCode: 8 }, 'p');
    expect((body.lastname as string).length).toBe(50);
    expect((body.jobtitle as string).length).toBe(100);
    expect((body.address1_country as string).length).toBe(80);
    expect((body.companyname as string).length).toBe(100);
    expect((body.description as string).length).toBe(2000);
    // fields: overrides are held to the same limits
    expect((mapLeadToDynamics(lead, { leadSourceCode: 8, fields: { lastname: long(60) } }, 'p').lastname as string).length).toBe(50);
  });

  it('says what it truncated, naming fields and lengths but no value', () => {
    const { warnings } = mapWithWarnings({ ...lead, customer: { ...lead.customer, firstName: 'Ζ'.repeat(300) } }, { leadSourceCode: 8 }, 'p');
    expect(warnings).toEqual(['Dynamics lead field firstname holds 50 characters: the value (300 characters) was truncated']);
  });

  it('leaves an over-long email out with a warning instead of cutting it into another address', () => {
    const email = `${'a'.repeat(95)}@contoso.com`;
    const { record, warnings } = mapWithWarnings({ ...lead, customer: { ...lead.customer, email } }, { leadSourceCode: 8 }, 'p');
    expect(record).not.toHaveProperty('emailaddress1');
    expect(record).toMatchObject({ firstname: 'Ada', lastname: 'Lovelace' });
    expect(warnings).toEqual(['Dynamics lead field emailaddress1 holds 100 characters: the value (107 characters) was left out, not truncated (a cut address is a wrong address)']);
    // An email that fits is sent as it is.
    expect(mapLeadToDynamics({ ...lead, customer: { email: `${'a'.repeat(88)}@contoso.com` } }, { leadSourceCode: 8 }, 'p').emailaddress1).toHaveLength(100);
  });

  it('never splits a surrogate pair when truncating', () => {
    expect(truncate('ab😀', 3)).toBe('ab');
    expect(truncate('ab😀', 4)).toBe('ab😀');
  });
});
