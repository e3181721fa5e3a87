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
