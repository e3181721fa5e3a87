import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseForm, parseJsonLead } from '@leadrelay/core';
import { FUZZ_KEY, IntakeUnderTest } from './intake-under-test.js';

/**
 * Cases the intake fuzzer found, kept as plain examples. Each was a lead intake accepted although a
 * part of it broke the limit its own field has (source 128, action 64, offer 256 characters). The canonical
 * format refuses such a lead; Microsoft's formats (JSON and the Web-to-Lead form, never resent when refused)
 * are cut to the limits instead.
 */

const S = (n: number) => 'S'.repeat(n);
const A = (n: number) => 'A'.repeat(n);
const O = (n: number) => 'o'.repeat(n);

describe('intake formats: source, action and offer limits hold whichever way they arrive', () => {
  it('a 257-character ?offer= is truncated for Microsoft JSON, with a warning (found: accepted, stored whole as the offer)', () => {
    const r = parseJsonLead({ UserDetails: { Email: 'a@b.c' }, LeadSource: 'AzureMarketplace', ActionCode: 'INS' }, { query: { offer: O(257) } });
    expect(r).toMatchObject({ ok: true, format: 'marketplace', lead: { offer: O(256) }, warnings: [{ path: '?offer', message: 'was 257 characters; truncated to 256' }] });
    const ok = parseJsonLead({ UserDetails: {}, LeadSource: 'AzureMarketplace', ActionCode: 'INS' }, { query: { offer: O(256) } });
    expect(ok.ok && [ok.lead.offer, ok.warnings]).toEqual([O(256), []]);
  });

  it('parts of `Source-Action|Offer` longer than their fields are refused in the canonical format, truncated in Microsoft\'s (found: action of 65)', () => {
    expect(parseForm({ lead_source: `S-=${A(64)}|o` })).toMatchObject({ ok: true, lead: { action: `=${A(63)}` }, warnings: [{ path: 'lead_source', message: 'was 65 characters; truncated to 64' }] });
    expect(parseJsonLead({ leadSource: `${S(129)}-A|o` })).toMatchObject({ ok: false, format: 'canonical', errors: [{ path: 'leadSource', message: 'source must be at most 128 characters' }] });
    expect(parseJsonLead({ leadSource: `S-A|${O(257)}` })).toMatchObject({ ok: false, errors: [{ path: 'leadSource', message: 'offer must be at most 256 characters' }] });
    // Microsoft never resends a refused lead: its parts are cut to their limits instead.
    expect(parseJsonLead({ ActionCode: 'INS', LeadSource: `S-A|${O(300)}` })).toMatchObject({ ok: true, format: 'marketplace', lead: { offer: O(256) }, warnings: [{ path: 'LeadSource' }] });
    // Microsoft JSON whose LeadSource is just the source.
    expect(parseJsonLead({ ActionCode: 'INS', LeadSource: S(129) })).toMatchObject({ ok: true, lead: { source: S(128) }, warnings: [{ path: 'LeadSource', message: 'was 129 characters; truncated to 128' }, { path: 'OfferTitle' }] });
    // At the limits, all fine.
    const r = parseForm({ lead_source: `${S(128)}-${A(64)}|${O(256)}` });
    expect(r.ok && [r.lead.source.length, r.lead.action.length, r.lead.offer.length]).toEqual([128, 64, 256]);
  });

  it('limits count code points, as every other field limit does (an emoji is one)', () => {
    const r = parseForm({ lead_source: `S-A|${'💥'.repeat(256)}` });
    expect(r.ok && [...r.lead.offer].length).toBe(256);
    const cut = parseForm({ lead_source: `S-A|${'💥'.repeat(257)}` });
    expect(cut.ok && [[...cut.lead.offer].length, cut.warnings]).toEqual([256, [{ path: 'lead_source', message: 'was 257 characters; truncated to 256' }]]);
    expect(parseJsonLead({ leadSource: `S-A|${'💥'.repeat(257)}` }).ok).toBe(false);
  });

  it('a part given in its own field wins over leadSource, so only the part used is checked', () => {
    const r = parseJsonLead({ offer: 'contoso.widget', leadSource: `S-A|${O(400)}` });
    expect(r.ok && r.lead.offer).toBe('contoso.widget');
  });
});

describe('content-derived lead ids', () => {
  /**
   * Fields were once joined with U+001F, so a value containing U+001F could shift text into the next
   * field and hash like another lead: intake would answer a different customer's lead `200 duplicate`.
   */
  it('two different id-less leads never get the same id (U+001F inside a value)', () => {
    // Joined: …␟Ada␟Lovelace␟␟ada@fabrikam.example␟… for both.
    const a = parseJsonLead({ leadSource: 'A-INS|c.d', customer: { firstName: 'Ada\u001fLovelace', email: 'ada@fabrikam.example' } });
    const b = parseJsonLead({ leadSource: 'A-INS|c.d', customer: { firstName: 'Ada', lastName: 'Lovelace', email: '\u001fada@fabrikam.example' } });
    expect(a.ok && b.ok).toBe(true);
    expect(a.ok && a.lead.id).not.toBe(b.ok && b.lead.id);
  });
});

describe('intake: the found cases over HTTP (a Microsoft lead, JSON or form, is truncated; a canonical one is a 400 problem that queues nothing)', () => {
  let intake: IntakeUnderTest;
  beforeAll(() => { intake = new IntakeUnderTest(inject('redisUrl')); });
  afterAll(async () => { await intake?.close(); });

  it.each([
    ['canonical JSON with a long action in leadSource', '/v1/leads', 'application/json', JSON.stringify({ leadSource: `S-=${A(64)}|o` }), 'leadSource'],
  ])('%s', async (_name, url, type, payload, path) => {
    const { response, jobsBefore, jobsAfter } = await intake.send({ method: 'POST', url, headers: { 'x-api-key': FUZZ_KEY, 'content-type': type }, payload });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ type: 'https://leadrelay.dev/problems/invalid-lead', status: 400, errors: [{ path }] });
    expect(jobsAfter).toBe(jobsBefore);
    expect(await intake.storedLeadIds()).toEqual(new Set());
  }, 30_000);

  it('a form with a long action in lead_source is accepted with the action cut to 64 characters', async () => {
    const { response } = await intake.send({ method: 'POST', url: '/v1/leads', headers: { 'x-api-key': FUZZ_KEY, 'content-type': 'application/x-www-form-urlencoded' }, payload: `lead_source=S-%3D${A(64)}%7Co&first_name=` });
    expect(response.statusCode, response.body).toBe(202);
    const status = await intake.relay.status(response.json().id);
    expect(status?.warnings).toEqual([{ path: 'lead_source', message: 'was 65 characters; truncated to 64' }]);
    expect((await intake.relay.leads.getLead(response.json().id))?.action).toBe(`=${A(63)}`);
  }, 30_000);

  it('Microsoft JSON with a long ?offer= is accepted with the offer cut to 256 characters', async () => {
    const payload = JSON.stringify({ UserDetails: { LastName: 'x' }, LeadSource: 'AzureMarketplace', ActionCode: 'INS' });
    const { response } = await intake.send({ method: 'POST', url: `/v1/leads?offer=${O(257)}`, headers: { 'x-api-key': FUZZ_KEY, 'content-type': 'application/json' }, payload });
    expect(response.statusCode, response.body).toBe(202);
    const status = await intake.relay.status(response.json().id);
    expect(status?.warnings).toEqual([{ path: '?offer', message: 'was 257 characters; truncated to 256' }]);
    expect((await intake.relay.leads.getLead(response.json().id))?.offer).toBe(O(256));
  }, 30_000);
});
