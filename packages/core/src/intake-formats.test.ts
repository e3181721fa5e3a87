import { describe, expect, it } from 'vitest';
import { parseCanonical, parseForm, parseJsonLead } from './intake-formats.js';

describe('intake formats', () => {
  it('reports every problem of a canonical lead at once, missing parts included', () => {
    const r = parseCanonical({ source: 'SPZA', customer: { nick: 'x' } });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors.map((e) => e.path).sort()).toEqual(['action', 'customer.nick', 'offer']);
  });

  it('tells Microsoft JSON from canonical JSON by UserDetails/ActionCode in any casing', () => {
    const ms = parseJsonLead({ userDetails: { email: 'a@b.c' }, leadSource: 'AzureMarketplace', actionCode: 'INS' }, { query: { offer: 'contoso.x' } });
    expect(ms).toMatchObject({ ok: true, format: 'marketplace', lead: { source: 'AzureMarketplace', action: 'INS', offer: 'contoso.x', customer: { email: 'a@b.c' } } });
    const canonical = parseJsonLead({ leadSource: 'SPZA-PLT|contoso.y' });
    expect(canonical).toMatchObject({ ok: true, format: 'canonical', lead: { source: 'SPZA', action: 'PLT', offer: 'contoso.y' } });
  });

  it("takes Microsoft's MSFT_TEST form lead (repeated encoding, oid ignored) as a test lead", () => {
    const t = 'MSFT_TEST_636573304831318844';
    const r = parseForm({ first_name: t, last_name: t, email: `${t}@test.com`, company: t, lead_source: `${t}-${t}|Contoso Test`, oid: '00Do0000000ZHog', encoding: ['UTF-8', 'UTF-8'] });
    expect(r).toMatchObject({ ok: true, format: 'form', clientId: false, lead: { testLead: true, offer: 'Contoso Test' } });
  });
});

describe("Microsoft's JSON is lenient: whatever can be a lead is one, with warnings", () => {
  const lead = (extra: Record<string, unknown>) => parseJsonLead({ UserDetails: { Email: 'a@b.c' }, ...extra });

  it('a missing ActionCode comes from the lead source where it implies one, else unknown', () => {
    expect(lead({ LeadSource: 'AzureMarketplace', OfferTitle: 'X' })).toMatchObject({ ok: true, lead: { action: 'INS' }, warnings: [{ path: 'ActionCode' }, { path: 'OfferTitle' }] });
    expect(lead({ LeadSource: 'TestDrive' })).toMatchObject({ ok: true, lead: { action: 'StartTestDrive' } });
    // AppSource sends INS, PLT or DNC (do not contact): no guess.
    const spza = lead({ LeadSource: 'SPZA' });
    expect(spza).toMatchObject({ ok: true, lead: { action: 'unknown' } });
    expect(spza.ok && spza.warnings[0]).toEqual({ path: 'ActionCode', message: "is missing and LeadSource 'SPZA' implies no action; the action is 'unknown'" });
    // Source-Action|Offer still supplies all three.
    expect(lead({ LeadSource: 'SPZA-PLT|contoso.x' })).toMatchObject({ ok: true, lead: { source: 'SPZA', action: 'PLT', offer: 'contoso.x' }, warnings: [] });
  });

  it('the offer: offer id, then Source-Action|Offer, then ?offer=, then OfferTitle, then unknown', () => {
    expect(lead({ LeadSource: 'AzureMarketplace', ActionCode: 'INS', OfferId: 'c.id', OfferTitle: 'T' })).toMatchObject({ lead: { offer: 'c.id' }, warnings: [] });
    expect(parseJsonLead({ UserDetails: {}, LeadSource: 'A', ActionCode: 'INS', OfferTitle: 'T' }, { query: { offer: 'c.q' } })).toMatchObject({ lead: { offer: 'c.q' }, warnings: [] });
    expect(lead({ LeadSource: 'A', ActionCode: 'INS', OfferTitle: 'Contoso Test' })).toMatchObject({ lead: { offer: 'Contoso Test', offerTitle: 'Contoso Test' } });
    expect(lead({ LeadSource: 'A', ActionCode: 'INS' })).toMatchObject({ lead: { offer: 'unknown' }, warnings: [{ path: 'OfferTitle' }] });
  });

  it('refuses only the wrong JSON type, naming the field; null is absent; the canonical format stays strict', () => {
    expect(lead({ ActionCode: 7, LeadSource: 'A' })).toEqual({ ok: false, format: 'marketplace', errors: [{ path: 'ActionCode', message: 'must be a string (got a number)' }] });
    expect(parseJsonLead({ UserDetails: { Phone: 12345, Email: null }, ActionCode: 'INS' })).toMatchObject({ ok: false, errors: [{ path: 'UserDetails.Phone' }] });
    expect(parseJsonLead({ UserDetails: { Email: null }, ActionCode: 'INS', LeadSource: 'A' })).toMatchObject({ ok: true, lead: { customer: {} } });
    expect(parseCanonical({ leadSource: 'A-B|c', customer: { firstName: 'x'.repeat(257) } })).toMatchObject({ ok: false, errors: [{ path: 'customer.firstName' }] });
  });
});
