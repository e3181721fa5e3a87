import { describe, expect, it } from 'vitest';
import { parseCanonical, parseForm, parseJsonLead, parseMarketplace } from './intake-formats.js';

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

describe("Microsoft's Web-to-Lead form is lenient like its JSON: whatever can be a lead is one, with warnings", () => {
  it('a missing lead_source: source and action unknown, the offer from ?offer= (else unknown), a warning each', () => {
    const r = parseForm({ first_name: 'Ada', email: 'ada@example.com' }, { query: { offer: 'contoso.q' } });
    expect(r).toMatchObject({ ok: true, format: 'form', lead: { source: 'unknown', action: 'unknown', offer: 'contoso.q', customer: { firstName: 'Ada' } } });
    expect(r.ok && r.warnings).toEqual([
      { path: 'lead_source', message: "is missing; the source is 'unknown'" },
      { path: 'lead_source', message: "names no action and the source 'unknown' implies none; the action is 'unknown'" },
    ]);
    expect(parseForm({ last_name: 'Doe' })).toMatchObject({ ok: true, lead: { offer: 'unknown' }, warnings: [{}, {}, { path: 'lead_source', message: expect.stringMatching(/^names no offer/) }] });
  });

  it('a source named like an Object property (constructor, toString) implies no action (found by the intake fuzz: a 500)', () => {
    for (const source of ['constructor', 'toString', '__proto__']) {
      expect(parseForm({ last_name: 'Doe', lead_source: source })).toMatchObject({ ok: true, lead: { source, action: 'unknown' } });
      expect(parseMarketplace({ UserDetails: { LastName: 'Doe' }, LeadSource: source })).toMatchObject({ ok: true, lead: { source, action: 'unknown' } });
    }
  });

  it('a lead_source that is only a source: the action it implies (AzureMarketplace → INS), with warnings', () => {
    const r = parseForm({ last_name: 'Doe', lead_source: 'AzureMarketplace' }, { query: { offer: 'contoso.x' } });
    expect(r).toMatchObject({ ok: true, lead: { source: 'AzureMarketplace', action: 'INS', offer: 'contoso.x' } });
    expect(r.ok && r.warnings.map((w) => w.message)).toEqual([
      "is not of the form 'Source-Action|Offer'; taken as the source",
      "names no action; the action is 'INS', as the source 'AzureMarketplace' implies",
    ]);
  });

  it('over-long values and parts are truncated to our limits (in characters, never splitting one), each with a warning', () => {
    const r = parseForm({
      first_name: '😀'.repeat(300), email: `${'e'.repeat(330)}@x.y`, description: 'd'.repeat(33_000),
      lead_source: `${'S'.repeat(129)}-${'A'.repeat(65)}|${'ö'.repeat(257)}`,
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect([...r.lead.customer.firstName!]).toHaveLength(256);
    expect(r.lead.customer.email).toHaveLength(320);
    expect(r.lead.description).toHaveLength(32_768);
    expect([r.lead.source.length, r.lead.action.length, r.lead.offer.length]).toEqual([128, 64, 256]);
    expect(r.warnings).toEqual([
      { path: 'first_name', message: 'was 300 characters; truncated to 256' },
      { path: 'email', message: 'was 334 characters; truncated to 320' },
      { path: 'description', message: 'was 33000 characters; truncated to 32768' },
      { path: 'lead_source', message: 'was 129 characters; truncated to 128' },
      { path: 'lead_source', message: 'was 65 characters; truncated to 64' },
      { path: 'lead_source', message: 'was 257 characters; truncated to 256' },
    ]);
  });

  it('still refuses what is no lead: not form fields, none of the lead fields, an id that is not a lead id; the canonical format stays strict', () => {
    expect(parseForm('x')).toMatchObject({ ok: false, errors: [{ path: '' }] });
    expect(parseForm({ oid: '00Do0000000ZHog', encoding: 'UTF-8' })).toMatchObject({ ok: false, format: 'form', errors: [{ path: '', message: expect.stringMatching(/^is no Web-to-Lead lead/) }] });
    expect(parseForm({ last_name: 'Doe', lead_source: 'S-A|o', id: 'no spaces' })).toMatchObject({ ok: false, errors: [{ path: 'id' }] });
    expect(parseCanonical({ customer: { firstName: 'x' } })).toMatchObject({ ok: false });
    expect(parseCanonical({ leadSource: `S-${'A'.repeat(65)}|o` })).toMatchObject({ ok: false, errors: [{ path: 'leadSource', message: 'action must be at most 64 characters' }] });
  });
});
