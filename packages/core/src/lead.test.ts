import { describe, expect, it } from 'vitest';
import { formatLeadSource, isTestLead, makeTestLead, parseLeadSource } from './lead.js';

describe('Source-Action|Offer', () => {
  it('splits on the first | then the first -, keeping dashes in the offer', () => {
    expect(parseLeadSource('AzureMarketplace-INS|checkpoint.check-point-r77-10sg-byol')).toEqual({
      source: 'AzureMarketplace', action: 'INS', offer: 'checkpoint.check-point-r77-10sg-byol',
    });
    expect(parseLeadSource('SPZA-PLT|contoso.app|x')).toEqual({ source: 'SPZA', action: 'PLT', offer: 'contoso.app|x' });
  });
  it('rejects strings without the three parts', () => {
    expect(parseLeadSource('AzureMarketplace')).toBeUndefined();
    expect(parseLeadSource('-INS|x')).toBeUndefined();
    expect(parseLeadSource('AzurePortal-|x')).toBeUndefined();
    expect(parseLeadSource('AzurePortal-Create|')).toBeUndefined();
  });
  it('round-trips', () => {
    const l = { source: 'AzurePortal', action: 'Create', offer: 'contoso.vm' };
    expect(parseLeadSource(formatLeadSource(l))).toEqual(l);
  });
});

describe('test leads', () => {
  it('makes a MSFT_TEST lead with .NET ticks that is detected as a test lead', () => {
    const lead = makeTestLead(new Date('2018-03-27T10:00:00Z'));
    expect(lead.customer.email).toMatch(/^MSFT_TEST_\d{18}@test\.com$/);
    expect(lead.customer.firstName).toBe('MSFT_TEST_636577416000000000');
    expect(isTestLead(lead)).toBe(true);
    expect(isTestLead({ ...lead, source: 'SPZA', action: 'PLT', description: undefined, offerTitle: undefined, customer: { email: 'a@b.c' } })).toBe(false);
  });
});
