import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LeadRelayConfig } from '@leadrelay/config';
import { LeadRelayMetrics, silentLogger } from '@leadrelay/observability';
import { Relay } from '@leadrelay/queue';
import {
  canonical, intakeConfig, jobCounts, KEY_ONE, KEY_TWO, microsoftJson, msftTestForm, postLead,
} from '../test/intake-fixture.js';
import { buildIntakeServer } from './index.js';

let config: LeadRelayConfig;
let app: FastifyInstance;
let relay: Relay;

beforeAll(async () => {
  config = intakeConfig(inject('redisUrl'));
  relay = new Relay(config);
  app = buildIntakeServer({ config, logger: silentLogger, metrics: new LeadRelayMetrics({ defaultMetrics: false }) });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await relay?.close();
});

function expectProblem(res: LightMyRequestResponse, status: number, type: string): Record<string, unknown> {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json() as Record<string, unknown>;
  expect(body).toMatchObject({ type: `https://leadrelay.dev/problems/${type}`, status });
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  expect(Array.isArray(body.errors)).toBe(true);
  return body;
}

const get = (url: string, headers: Record<string, string> = { authorization: `Bearer ${KEY_ONE}` }) => app.inject({ method: 'GET', url, headers });

describe('POST /v1/leads: the three formats', () => {
  it('accepts Microsoft HTTPS-endpoint JSON with camelCase userDetails, taking the offer from ?offer=', async () => {
    const res = await postLead(app, microsoftJson({ description: 'format test 1' }), { url: '/v1/leads?offer=contoso.widget' });
    expect(res.statusCode, res.body).toBe(202);
    const body = res.json();
    expect(body).toEqual({ id: expect.stringMatching(/^h[0-9a-f]{32}$/), duplicate: false, destinations: ['all', 'ins-only', 'contoso'] });
    const status = (await get(`/v1/leads/${body.id}`)).json();
    expect(status.testLead).toBe(false);
    expect(Object.keys(status.deliveries)).toEqual(['all', 'ins-only', 'contoso']);
    const job = await relay.queue('contoso').getJob(relay.keys.jobId('contoso', body.id));
    expect(job?.data.lead).toMatchObject({
      source: 'AzureMarketplace', action: 'INS', offer: 'contoso.widget', offerTitle: 'Contoso Widget',
      customer: { firstName: 'Some', lastName: 'One', email: 'someone@contoso.com', phone: '16175555555', country: 'USA', company: 'Contoso', title: 'Esquire' },
    });
  });

  it('accepts PascalCase UserDetails too (names match case-insensitively)', async () => {
    const res = await postLead(app, {
      UserDetails: { FirstName: 'Pat', Email: 'pat@contoso.com' }, LeadSource: 'AzurePortal', ActionCode: 'Create', OfferTitle: 'X',
    }, { url: '/v1/leads?offer=contoso.other' });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json().destinations).toEqual(['all', 'contoso']);
  });

  it('accepts canonical JSON with leadSource, and records filtered destinations as skipped', async () => {
    const res = await postLead(app, canonical({ description: 'format test 2' }));
    expect(res.statusCode, res.body).toBe(202);
    const { id, destinations } = res.json();
    expect(destinations).toEqual(['all']);
    const status = await get(`/v1/leads/${id}`);
    expect(status.statusCode).toBe(200);
    expect(status.json()).toEqual({
      id, receivedAt: expect.any(String), testLead: false, timeline: [],
      deliveries: { all: { state: 'queued', attempts: 0 }, 'ins-only': { state: 'skipped', attempts: 0 }, contoso: { state: 'skipped', attempts: 0 } },
    });
    const job = await relay.queue('all').getJob(relay.keys.jobId('all', id));
    expect(job?.data.lead).toMatchObject({ source: 'SPZA', action: 'PLT', offer: 'fabrikam.app', customer: { email: 'ada@fabrikam.example' } });
    expect(await relay.queue('ins-only').getJob(relay.keys.jobId('ins-only', id))).toBeUndefined();
  });

  it('accepts canonical JSON with separate source/action/offer and a client id', async () => {
    const res = await postLead(app, { id: 'crm-4711', source: 'Web', action: 'INS', offer: 'contoso.widget', customer: {} });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toEqual({ id: 'crm-4711', duplicate: false, destinations: ['all', 'ins-only', 'contoso'] });
  });

  it("accepts Microsoft's form-style MSFT_TEST lead (repeated encoding, oid) as a test lead", async () => {
    const res = await postLead(app, msftTestForm('636573304831318844'));
    expect(res.statusCode, res.body).toBe(202);
    const { id, destinations } = res.json();
    // ins-only: the action is MSFT_TEST_…; contoso: takes no test leads.
    expect(destinations).toEqual(['all']);
    const status = (await get(`/v1/leads/${id}`)).json();
    expect(status.testLead).toBe(true);
    expect(status.deliveries).toEqual({ all: { state: 'queued', attempts: 0 }, 'ins-only': { state: 'skipped', attempts: 0 }, contoso: { state: 'skipped', attempts: 0 } });
    const job = await relay.queue('all').getJob(relay.keys.jobId('all', id));
    expect(job?.data.lead).toMatchObject({ source: 'MSFT_TEST_636573304831318844', offer: 'contoso.widget', customer: { phone: '1234567890', country: 'US' } });
  });

  it('accepts /v1/leads/ with a trailing slash (a pasted URL)', async () => {
    const res = await postLead(app, canonical({ description: 'trailing slash' }), { url: '/v1/leads/?offer=ignored.when.given' });
    expect(res.statusCode, res.body).toBe(202);
  });

  it('accepts content types with parameters and application/*+json', async () => {
    for (const [i, type] of ['application/json; charset=utf-8', 'APPLICATION/JSON', 'application/vnd.contoso.lead+json; charset=UTF-8'].entries()) {
      const res = await postLead(app, canonical({ description: `content type ${i}` }), { headers: { 'content-type': type } });
      expect(res.statusCode, `${type}: ${res.body}`).toBe(202);
    }
    const form = await postLead(app, msftTestForm('636573304831318999'), { headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' } });
    expect(form.statusCode, form.body).toBe(202);
  });
});

describe('POST /v1/leads: errors', () => {
  it('400 with errors[] for an invalid canonical lead; nothing queued', async () => {
    const before = await jobCounts(relay);
    const res = await postLead(app, { customer: { email: 'x@example.com', shoeSize: 42 }, offer: 'contoso.widget' });
    const body = expectProblem(res, 400, 'invalid-lead');
    expect(body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'customer.shoeSize' })]));
    const missing = expectProblem(await postLead(app, { offer: 'contoso.widget', customer: {} }), 400, 'invalid-lead');
    expect((missing.errors as { path: string }[]).map((e) => e.path).sort()).toEqual(['action', 'source']);
    expect(await jobCounts(relay)).toEqual(before);
  });

  it('400 for a Microsoft lead whose UserDetails is not an object, and for a form that is no lead (no lead field, a bad id)', async () => {
    const before = await jobCounts(relay);
    const ms = expectProblem(await postLead(app, microsoftJson({ userDetails: 'nope' })), 400, 'invalid-lead');
    expect(ms.errors).toEqual([{ path: 'UserDetails', message: 'must be an object' }]);
    const none = expectProblem(await postLead(app, 'oid=00D5g000004abcd&encoding=UTF-8'), 400, 'invalid-lead');
    expect(none.errors).toEqual([{ path: '', message: expect.stringMatching(/^is no Web-to-Lead lead/) }]);
    const id = expectProblem(await postLead(app, 'last_name=Doe&lead_source=SPZA-PLT%7Ccontoso.app&id=a%20b'), 400, 'invalid-lead');
    expect(id.errors).toEqual([{ path: 'id', message: 'must match ^[A-Za-z0-9._-]{1,128}$' }]);
    expect(await jobCounts(relay)).toEqual(before);
  });

  it("Microsoft's Web-to-Lead form is never refused for its content: no lead_source, over-long values → 202, warnings in its status", async () => {
    const res = await postLead(app, 'first_name=Ada&email=ada-form-lenient%40example.com');
    expect(res.statusCode, res.body).toBe(202);
    const status = (await get(`/v1/leads/${res.json().id}`)).json();
    expect(status.warnings).toEqual([
      { path: 'lead_source', message: "is missing; the source is 'unknown'" },
      { path: 'lead_source', message: "names no action and the source 'unknown' implies none; the action is 'unknown'" },
      { path: 'lead_source', message: "names no offer; the offer is 'unknown' (add ?offer=<publisher.offer> to the endpoint URL to set one)" },
    ]);
    expect(await relay.leads.getLead(res.json().id)).toMatchObject({ source: 'unknown', action: 'unknown', offer: 'unknown', customer: { firstName: 'Ada' } });

    // Values and parts over our limits are cut to them; ?offer= names the offer when lead_source has none.
    // (ASCII, to stay under this intake's 2 KiB body limit; parseForm's own tests cover non-Latin text and description.)
    const long = await postLead(app, `first_name=${'F'.repeat(300)}&last_name=Form&email=form-long%40example.com`
      + `&company=${'C'.repeat(257)}&lead_source=${'S'.repeat(129)}-${'A'.repeat(65)}%7C${'o'.repeat(257)}`);
    expect(long.statusCode, long.body).toBe(202);
    const longStatus = (await get(`/v1/leads/${long.json().id}`)).json();
    expect(longStatus.warnings).toEqual([
      { path: 'first_name', message: 'was 300 characters; truncated to 256' },
      { path: 'company', message: 'was 257 characters; truncated to 256' },
      { path: 'lead_source', message: 'was 129 characters; truncated to 128' },
      { path: 'lead_source', message: 'was 65 characters; truncated to 64' },
      { path: 'lead_source', message: 'was 257 characters; truncated to 256' },
    ]);
    expect(await relay.leads.getLead(long.json().id)).toMatchObject({
      source: 'S'.repeat(128), action: 'A'.repeat(64), offer: 'o'.repeat(256), customer: { firstName: 'F'.repeat(256), company: 'C'.repeat(256) },
    });
    const named = await postLead(app, 'last_name=Named&email=form-named%40example.com&lead_source=AzureMarketplace', { url: '/v1/leads?offer=contoso.widget' });
    expect(named.statusCode, named.body).toBe(202);
    expect(await relay.leads.getLead(named.json().id)).toMatchObject({ source: 'AzureMarketplace', action: 'INS', offer: 'contoso.widget' });
  });

  it('400 naming the field for a form body that is not valid UTF-8 (percent-encoded or raw); nothing queued', async () => {
    const before = await jobCounts(relay);
    // Latin-1 "Zoë" percent-encoded: %EB alone is not UTF-8.
    const encoded = expectProblem(await postLead(app, 'lead_source=SPZA-PLT%7Ccontoso.app&first_name=Zo%EB&last_name=Doe'), 400, 'malformed-body');
    expect(encoded.errors).toEqual([{ path: 'first_name', message: 'is not valid UTF-8' }]);
    expect(encoded.detail).toMatch(/offset 48\b.*percent-encoded as UTF-8/);
    const raw = Buffer.concat([Buffer.from('lead_source=SPZA-PLT%7Ccontoso.app&company=Zo'), Buffer.from([0xeb]), Buffer.from('&last_name=Doe')]);
    const rawProblem = expectProblem(await postLead(app, raw, { headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 400, 'malformed-body');
    expect(rawProblem.errors).toEqual([{ path: 'company', message: 'is not valid UTF-8' }]);
    expect(rawProblem.detail).toMatch(/offset 45\b/);
    expect(await jobCounts(relay)).toEqual(before);
    // UTF-8 percent-encoded, as Microsoft's connector sends it (encoding=UTF-8), is fine.
    const fine = await postLead(app, 'lead_source=SPZA-PLT%7Ccontoso.app&first_name=Zo%C3%AB&last_name=Utf8&email=form-utf8%40example.com&encoding=UTF-8');
    expect(fine.statusCode, fine.body).toBe(202);
    expect((await relay.leads.getLead(fine.json().id))?.customer.firstName).toBe('Zoë');
  });

  it('a Microsoft lead is never refused for its content: no ActionCode, over-long values, no offer id → 202, warnings in its status', async () => {
    const res = await postLead(app, microsoftJson({
      actionCode: undefined, leadSource: 'AzurePortal', offerTitle: 'Contoso Lenient Offer', description: 'lenient 1',
      userDetails: { firstName: 'Ö'.repeat(300), lastName: 'One', email: 'lenient1@contoso.com', title: 'T'.repeat(1000) },
    }));
    expect(res.statusCode, res.body).toBe(202);
    const { id } = res.json();
    const status = (await get(`/v1/leads/${id}`)).json();
    expect(status.warnings).toEqual([
      { path: 'UserDetails.FirstName', message: 'was 300 characters; truncated to 256' },
      { path: 'UserDetails.Title', message: 'was 1000 characters; truncated to 256' },
      { path: 'ActionCode', message: "is missing; the action is 'Create', as LeadSource 'AzurePortal' implies" },
      expect.objectContaining({ path: 'OfferTitle', message: expect.stringMatching(/^used as the offer/) }),
    ]);
    const lead = await relay.leads.getLead(id);
    expect(lead).toMatchObject({ source: 'AzurePortal', action: 'Create', offer: 'Contoso Lenient Offer', customer: { firstName: 'Ö'.repeat(256), title: 'T'.repeat(256) } });

    // Nothing to go by: action and offer are `unknown`, with a warning each.
    const bare = await postLead(app, { UserDetails: { Email: 'lenient2@contoso.com' } });
    expect(bare.statusCode, bare.body).toBe(202);
    const bareStatus = (await get(`/v1/leads/${bare.json().id}`)).json();
    expect(bareStatus.warnings.map((w: { path: string }) => w.path)).toEqual(['LeadSource', 'ActionCode', 'OfferTitle']);
    expect(await relay.leads.getLead(bare.json().id)).toMatchObject({ source: 'unknown', action: 'unknown', offer: 'unknown' });
    // A lead intake did not change has no warnings at all.
    const clean = await postLead(app, microsoftJson({ description: 'lenient 3' }), { url: '/v1/leads?offer=contoso.widget' });
    expect((await get(`/v1/leads/${clean.json().id}`)).json()).not.toHaveProperty('warnings');
  });

  it('400 naming the field for a Microsoft value of the wrong JSON type (number, boolean, object, array); nothing queued', async () => {
    const before = await jobCounts(relay);
    const res = expectProblem(await postLead(app, microsoftJson({
      userDetails: { phone: 16175555555, email: 'typed@contoso.com', company: { name: 'Contoso' } }, actionCode: true, offerTitle: ['x'],
    })), 400, 'invalid-lead');
    expect(res.errors).toEqual([
      { path: 'ActionCode', message: 'must be a string (got a boolean)' },
      { path: 'OfferTitle', message: 'must be a string (got an array)' },
      { path: 'UserDetails.Phone', message: 'must be a string (got a number)' },
      { path: 'UserDetails.Company', message: 'must be a string (got an object)' },
    ]);
    expect(await jobCounts(relay)).toEqual(before);
  });

  it('400 naming the field for a JSON body that is not valid UTF-8 (Microsoft or canonical); a real U+FFFD is fine', async () => {
    const before = await jobCounts(relay);
    const body = (name: Buffer) => Buffer.concat([Buffer.from('{"UserDetails":{"Email":"utf8@contoso.com","FirstName":"'), name,
      Buffer.from('"},"LeadSource":"AzureMarketplace","ActionCode":"INS"}')]);
    const headers = { 'content-type': 'application/json' };
    // Latin-1 "Zoë" (0xEB alone is not UTF-8).
    const bad = expectProblem(await postLead(app, body(Buffer.from([0x5a, 0x6f, 0xeb])), { headers }), 400, 'malformed-body');
    expect(bad.errors).toEqual([{ path: 'UserDetails.FirstName', message: 'is not valid UTF-8' }]);
    expect(bad.detail).toMatch(/offset 58/);
    const canonicalBad = Buffer.concat([Buffer.from('{"leadSource":"SPZA-INS|x.y","customer":{"company":"\ufffd'), Buffer.from('�'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')]);
    expect(expectProblem(await postLead(app, canonicalBad, { headers }), 400, 'malformed-body').errors).toEqual([{ path: 'customer.company', message: 'is not valid UTF-8' }]);
    expect(await jobCounts(relay)).toEqual(before);
    const fine = await postLead(app, body(Buffer.from('Zoë �')), { headers });
    expect(fine.statusCode, fine.body).toBe(202);
    expect((await relay.leads.getLead(fine.json().id))?.customer.firstName).toBe('Zoë �');
  });

  it('400 malformed-body for broken JSON, an empty body, non-object JSON and prototype poisoning', async () => {
    expectProblem(await postLead(app, '{"leadSource": "SPZA-INS|x.y", ', { headers: { 'content-type': 'application/json' } }), 400, 'malformed-body');
    expectProblem(await postLead(app, '', { headers: { 'content-type': 'application/json' } }), 400, 'malformed-body');
    expectProblem(await postLead(app, '{"__proto__": {"polluted": true}}', { headers: { 'content-type': 'application/json' } }), 400, 'malformed-body');
    expectProblem(await postLead(app, '[1,2]', { headers: { 'content-type': 'application/json' } }), 400, 'invalid-lead');
    expectProblem(await postLead(app, 'null', { headers: { 'content-type': 'application/json' } }), 400, 'invalid-lead');
  });

  it('413 for a body over intake.maxBodyBytes, JSON or form', async () => {
    const big = canonical({ description: 'x'.repeat(3000) });
    const json = expectProblem(await postLead(app, big), 413, 'payload-too-large');
    expect(json.detail).toContain('2048');
    expectProblem(await postLead(app, `lead_source=A-B%7Cc.d&description=${'y'.repeat(3000)}`), 413, 'payload-too-large');
  });

  it('415 for other content types and a POST without one', async () => {
    for (const type of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/jsonx', 'not a type']) {
      expectProblem(await postLead(app, '{}', { headers: { 'content-type': type } }), 415, 'unsupported-media-type');
    }
    const none = await app.inject({ method: 'POST', url: '/v1/leads', headers: { authorization: `Bearer ${KEY_ONE}` } });
    expectProblem(none, 415, 'unsupported-media-type');
    const gzip = await postLead(app, canonical(), { headers: { 'content-encoding': 'gzip' } });
    expect(expectProblem(gzip, 415, 'unsupported-media-type').errors).toEqual([{ path: '', message: "Content-Encoding 'gzip' is not supported" }]);
    expect((await postLead(app, canonical({ description: 'identity' }), { headers: { 'content-encoding': 'identity' } })).statusCode).toBe(202);
    const noTypeWithBody = await app.inject({ method: 'POST', url: '/v1/leads', headers: { authorization: `Bearer ${KEY_ONE}` }, payload: Buffer.from('{}') });
    expectProblem(noTypeWithBody, 415, 'unsupported-media-type');
  });

  it('404 problem for an unknown route, 405 with Allow for a wrong method', async () => {
    expectProblem(await get('/v1/nothing'), 404, 'not-found');
    expectProblem(await app.inject({ method: 'GET', url: '/' }), 404, 'not-found');
    const put = await app.inject({ method: 'PUT', url: '/v1/leads', headers: { authorization: `Bearer ${KEY_ONE}` } });
    expectProblem(put, 405, 'method-not-allowed');
    expect(put.headers.allow).toBe('POST');
    const del = await app.inject({ method: 'DELETE', url: '/v1/leads/abc' });
    expectProblem(del, 405, 'method-not-allowed');
    expect(del.headers.allow).toBe('GET, HEAD');
    expectProblem(await app.inject({ method: 'POST', url: '/healthz' }), 405, 'method-not-allowed');
  });
});

describe('authentication', () => {
  const lead = (n: string) => canonical({ description: `auth ${n}` });

  it('accepts the key as Authorization: Bearer, X-Api-Key or ?code=, any configured key', async () => {
    expect((await postLead(app, lead('bearer'), { key: KEY_ONE })).statusCode).toBe(202);
    expect((await postLead(app, lead('bearer lowercase'), { key: null, headers: { authorization: `bearer ${KEY_TWO}` } })).statusCode).toBe(202);
    expect((await postLead(app, lead('x-api-key'), { key: null, headers: { 'x-api-key': KEY_TWO } })).statusCode).toBe(202);
    expect((await postLead(app, lead('code'), { key: null, url: `/v1/leads?code=${encodeURIComponent(KEY_ONE)}` })).statusCode).toBe(202);
  });

  it('401 problem with WWW-Authenticate when the key is missing or wrong, each way', async () => {
    const wrong = 'intake-key-wrong-000000000000';
    const cases = [
      { key: null },
      { key: wrong },
      { key: `${KEY_ONE}x` },
      { key: KEY_ONE.slice(0, -1) },
      { key: null, headers: { 'x-api-key': wrong } },
      { key: null, url: `/v1/leads?code=${wrong}` },
      { key: null, url: '/v1/leads?code=' },
      { key: null, headers: { authorization: `Basic ${Buffer.from(`u:${KEY_ONE}`).toString('base64')}` } },
    ];
    for (const c of cases) {
      const res = await postLead(app, lead('401'), c);
      expectProblem(res, 401, 'unauthorized');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="leadrelay"/);
    }
  });

  it('answers 401 before reading the body: the body makes no difference', async () => {
    expectProblem(await postLead(app, canonical({ description: 'z'.repeat(10_000) }), { key: null }), 401, 'unauthorized');
    expectProblem(await postLead(app, '{not json', { key: null, headers: { 'content-type': 'application/json' } }), 401, 'unauthorized');
    expectProblem(await postLead(app, '<lead/>', { key: null, headers: { 'content-type': 'application/xml' } }), 401, 'unauthorized');
  });

  it('GET /v1/leads/:id needs the key; /healthz, /readyz and /metrics do not', async () => {
    expectProblem(await get('/v1/leads/anything', {}), 401, 'unauthorized');
    expectProblem(await get('/v1/leads/anything', { 'x-api-key': 'wrong-key-123456789' }), 401, 'unauthorized');
    expect((await get('/healthz', {})).json()).toEqual({ status: 'ok' });
    expect((await get('/readyz', {})).statusCode).toBe(200);
    expect((await get('/metrics', {})).statusCode).toBe(200);
  });
});

describe('idempotency', () => {
  it('a re-post with the same client id is 200 duplicate and queues nothing twice', async () => {
    const body = canonical({ id: 'retry-me.1', leadSource: 'AzureMarketplace-INS|contoso.widget' });
    const first = await postLead(app, body);
    expect(first.statusCode).toBe(202);
    const before = await jobCounts(relay);
    const second = await postLead(app, { ...body, description: 'changed on retry' }, { key: KEY_TWO });
    expect(second.statusCode).toBe(200);
    expect(second.json()).toEqual({ id: 'retry-me.1', duplicate: true, destinations: ['all', 'ins-only', 'contoso'] });
    expect(await jobCounts(relay)).toEqual(before);
    for (const d of ['all', 'ins-only', 'contoso']) expect(await relay.queue(d).getJob(relay.keys.jobId(d, 'retry-me.1'))).toBeDefined();
  });

  it('a re-post without an id has the same content id: 200 duplicate, no second job', async () => {
    const body = microsoftJson({ description: 'no id, posted twice' });
    const first = await postLead(app, body, { url: '/v1/leads?offer=contoso.widget' });
    expect(first.statusCode).toBe(202);
    const before = await jobCounts(relay);
    const second = await postLead(app, body, { url: '/v1/leads?offer=contoso.widget' });
    expect(second.statusCode).toBe(200);
    expect(second.json()).toEqual({ id: first.json().id, duplicate: true, destinations: ['all', 'ins-only', 'contoso'] });
    expect(await jobCounts(relay)).toEqual(before);
  });

  it('the same form test lead posted twice is one lead', async () => {
    const form = msftTestForm('636573304831300001');
    const first = await postLead(app, form);
    const second = await postLead(app, form);
    expect([first.statusCode, second.statusCode]).toEqual([202, 200]);
    expect(second.json().id).toBe(first.json().id);
  });

  it('concurrent posts of one lead: exactly one 202, one job per destination', async () => {
    const body = canonical({ id: 'concurrent-1', leadSource: 'AzureMarketplace-INS|contoso.widget' });
    const before = await jobCounts(relay);
    const results = await Promise.all(Array.from({ length: 5 }, () => postLead(app, body)));
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 200, 202]);
    const after = await jobCounts(relay);
    expect(after).toEqual({ all: before.all! + 1, 'ins-only': before['ins-only']! + 1, contoso: before.contoso! + 1 });
  });
});

describe('GET /v1/leads/:id', () => {
  it('404 problem for an unknown lead', async () => {
    expectProblem(await get('/v1/leads/never-posted'), 404, 'lead-not-found');
  });

  it('400 for an id that does not match ^[A-Za-z0-9._-]{1,128}$', async () => {
    expectProblem(await get('/v1/leads/bad%24id'), 400, 'invalid-lead-id');
    expectProblem(await get('/v1/leads/a%2Fb'), 400, 'invalid-lead-id');
    expectProblem(await get(`/v1/leads/${'a'.repeat(129)}`), 400, 'invalid-lead-id');
    expectProblem(await get(`/v1/leads/${'a'.repeat(300)}`), 400, 'invalid-lead-id');
    expect((await get(`/v1/leads/${'a'.repeat(128)}`)).statusCode).toBe(404);
  });

  it('HEAD answers like GET without a body', async () => {
    await postLead(app, canonical({ id: 'head-me' }));
    const res = await app.inject({ method: 'HEAD', url: '/v1/leads/head-me', headers: { 'x-api-key': KEY_ONE } });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
  });
});

describe('probes and metrics', () => {
  it('/readyz is 200 when Redis answers', async () => {
    const res = await get('/readyz', {});
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', checks: { config: 'ok', redis: 'ok' } });
  });

  it('/metrics counts received leads by format, rejections by reason, and reads queue gauges from Redis', async () => {
    const metricsConfig = intakeConfig(inject('redisUrl'));
    const metricsApp = buildIntakeServer({ config: metricsConfig, logger: silentLogger, metrics: new LeadRelayMetrics({ defaultMetrics: false }) });
    try {
      expect((await postLead(metricsApp, canonical({ description: 'metrics 1' }))).statusCode).toBe(202);
      expect((await postLead(metricsApp, canonical({ description: 'metrics 1' }))).statusCode).toBe(200);
      expect((await postLead(metricsApp, microsoftJson(), { url: '/v1/leads?offer=contoso.widget' })).statusCode).toBe(202);
      expect((await postLead(metricsApp, msftTestForm('636573304831300777'))).statusCode).toBe(202);
      expect((await postLead(metricsApp, {})).statusCode).toBe(400);
      expect((await postLead(metricsApp, '{', { headers: { 'content-type': 'application/json' } })).statusCode).toBe(400);
      expect((await postLead(metricsApp, canonical(), { key: 'not-a-key-000000000' })).statusCode).toBe(401);
      expect((await postLead(metricsApp, canonical(), { key: null })).statusCode).toBe(401);
      expect((await postLead(metricsApp, canonical({ description: 'q'.repeat(5000) }))).statusCode).toBe(413);
      expect((await postLead(metricsApp, 'x', { headers: { 'content-type': 'text/plain' } })).statusCode).toBe(415);
      // Not lead submissions: not counted as rejected leads.
      expect((await metricsApp.inject({ method: 'GET', url: '/v1/leads/x' })).statusCode).toBe(401);

      const res = await metricsApp.inject({ method: 'GET', url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = res.body;
      const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
      expect(value('leadrelay_leads_received_total{format="canonical"}')).toBe(1);
      expect(value('leadrelay_leads_received_total{format="marketplace"}')).toBe(1);
      expect(value('leadrelay_leads_received_total{format="form"}')).toBe(1);
      expect(value('leadrelay_leads_rejected_total{reason="invalid"}')).toBe(1);
      expect(value('leadrelay_leads_rejected_total{reason="malformed"}')).toBe(1);
      expect(value('leadrelay_leads_rejected_total{reason="unauthorized"}')).toBe(2);
      expect(value('leadrelay_leads_rejected_total{reason="too_large"}')).toBe(1);
      expect(value('leadrelay_leads_rejected_total{reason="unsupported_media_type"}')).toBe(1);
      expect(value('leadrelay_leads_rejected_total{reason="unavailable"}')).toBe(0);
      // all: 3 leads; ins-only: the Microsoft one; contoso: the Microsoft one (the form lead is a test lead).
      expect(value('leadrelay_queue_jobs{destination="all",state="waiting"}')).toBe(3);
      expect(value('leadrelay_queue_jobs{destination="ins-only",state="waiting"}')).toBe(1);
      expect(value('leadrelay_queue_jobs{destination="contoso",state="waiting"}')).toBe(1);
    } finally {
      await metricsApp.close();
    }
  });
});
