import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FUZZ_KEY, FUZZ_MAX_BODY, IntakeUnderTest } from './intake-under-test.js';
import { Entries, toJsonText } from './json-text.js';
import {
  anyText, canonicalLead, formLead, formText, hostileCanonical, hostileForm, hostileMarketplace, hostileRaw, hugeString, marketplaceLead, sometimes, validId, validLead,
  type HostileBody, type ValidLead,
} from './lead-arbitraries.js';

/**
 * Property-based fuzzing of the intake (README: Intake HTTP API, apps/intake/README.md "Invalid input never causes a
 * 5xx, and nothing is queued for any 4xx") against a real Relay on the test Redis. Every case checks:
 * an answer within the time limit, never a 5xx (Redis is up), every error application/problem+json
 * {type, title, status}, the queues unchanged unless a new lead was accepted (then by exactly its
 * destinations), and every accepted lead retrievable. `FUZZ_SEED` replays a run.
 */

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const runs = (n: number) => ({ numRuns: n, ...(SEED === undefined ? {} : { seed: SEED }) });

let intake: IntakeUnderTest;
const cases: Record<string, number> = {};
const count = (label: string) => { cases[label] = (cases[label] ?? 0) + 1; };

beforeAll(() => {
  intake = new IntakeUnderTest(inject('redisUrl'));
});

afterAll(async () => {
  const total = Object.entries(cases).filter(([k]) => !k.startsWith('status:')).reduce((a, [, b]) => a + b, 0);
  console.log(`intake fuzz: ${total} generated cases (${intake?.requests ?? 0} requests): ${JSON.stringify(cases)}`);
  await intake?.close();
});

const PROBLEM_TYPE = /^application\/problem\+json(;|$)/;

function describeCase(options: InjectOptions): string {
  const body = options.payload === undefined ? '' : Buffer.isBuffer(options.payload) ? options.payload.toString('latin1') : String(options.payload);
  return `${options.method} ${String(options.url).slice(0, 300)} headers=${JSON.stringify(options.headers).slice(0, 500)} body(${body.length})=${JSON.stringify(body.slice(0, 400))}`;
}

/** The invariants every request must satisfy; records accepted leads. Returns the response. */
async function sendAndCheck(options: InjectOptions): Promise<LightMyRequestResponse> {
  const { response: r, jobsBefore, jobsAfter } = await intake.send(options);
  count(`status:${r.statusCode}`);
  const what = `${describeCase(options)}\n→ ${r.statusCode} ${r.headers['content-type']} ${r.body.slice(0, 500)}`;
  expect(r.statusCode, what).toBeLessThan(500);
  expect(r.statusCode, what).toBeGreaterThanOrEqual(200);
  expect([300, 301, 302, 303, 307, 308], what).not.toContain(r.statusCode);
  const head = options.method === 'HEAD';
  if (r.statusCode >= 400) {
    expect(r.headers['content-type'], what).toMatch(PROBLEM_TYPE);
    if (!head) {
      const body = JSON.parse(r.body) as { type?: unknown; title?: unknown; status?: unknown };
      expect(typeof body.type, what).toBe('string');
      expect(typeof body.title, what).toBe('string');
      expect(body.status, what).toBe(r.statusCode);
    }
    // Nothing queued for a rejected request.
    expect(jobsAfter, what).toBe(jobsBefore);
    return r;
  }
  // The path as the router sees it: inject, like any WHATWG URL client, resolves `.` and `..` segments first.
  const isLeadPost = options.method === 'POST' && /^\/v1\/leads\/?$/.test(new URL(String(options.url), 'http://intake').pathname);
  if (isLeadPost && (r.statusCode === 200 || r.statusCode === 202)) {
    const body = JSON.parse(r.body) as { id: string; duplicate: boolean; destinations: string[] };
    expect(body.id, what).toMatch(/^[A-Za-z0-9._-]{1,128}$/);
    expect(body.duplicate, what).toBe(r.statusCode === 200);
    if (body.duplicate) {
      expect(intake.accepted.has(body.id), what).toBe(true);
      expect(jobsAfter, what).toBe(jobsBefore);
    } else {
      expect(intake.accepted.has(body.id), what).toBe(false);
      expect(body.destinations, what).toContain('all');
      // Exactly one job per destination named, nothing else.
      expect(jobsAfter - jobsBefore, what).toBe(body.destinations.length);
      intake.accepted.set(body.id, body.destinations);
      await expectWellFormedLead(body.id, what);
    }
    await expectRetrievable(body.id, body.destinations, what);
  } else {
    expect(jobsAfter, what).toBe(jobsBefore);
  }
  return r;
}

/** Field limits of the lead model as intake-formats.ts enforces them on each field, in code points (as zod counts). */
const codePoints = (s: string) => [...s].length;
const LIMITS = { source: 128, action: 64, offer: 256, offerTitle: 512, description: 32_768 } as const;

/**
 * Whatever path a value took (its own field, `Source-Action|Offer`, `?offer=`), the stored lead obeys the
 * limits a field of its own would have: what intake accepts is what every destination was designed for.
 */
async function expectWellFormedLead(id: string, what: string): Promise<void> {
  const lead = await intake.relay.leads.getLead(id);
  expect(lead, `stored lead ${id}`).toBeDefined();
  const l = lead!;
  const where = `lead ${JSON.stringify(l).slice(0, 400)}\nafter ${what}`;
  expect(l.id, where).toBe(id);
  for (const k of ['source', 'action', 'offer'] as const) {
    expect(typeof l[k], where).toBe('string');
    expect(l[k].trim(), where).not.toBe('');
    expect(codePoints(l[k]), `${k} ${where}`).toBeLessThanOrEqual(LIMITS[k]);
  }
  if (l.offerTitle !== undefined) expect(codePoints(l.offerTitle), where).toBeLessThanOrEqual(LIMITS.offerTitle);
  if (l.description !== undefined) expect(codePoints(l.description), where).toBeLessThanOrEqual(LIMITS.description);
  for (const [k, v] of Object.entries(l.customer)) {
    expect(typeof v, where).toBe('string');
    expect(codePoints(v), `${k} ${where}`).toBeLessThanOrEqual(k === 'email' ? 320 : 256);
  }
  // createdAt is an ISO-8601 UTC time that reads back as itself.
  expect(l.createdAt, where).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  expect(new Date(l.createdAt).toISOString(), where).toBe(l.createdAt);
  expect(typeof l.testLead, where).toBe('boolean');
}

/** GET /v1/leads/{id} answers the lead with a delivery per destination it was queued for. */
async function expectRetrievable(id: string, destinations: string[], what: string): Promise<void> {
  let status: { id: string; deliveries: Record<string, { state: string }> } | undefined;
  if (id === '.' || id === '..') {
    // Valid ids (`^[A-Za-z0-9._-]{1,128}$`) that no WHATWG URL can carry as a path segment, not even as %2E: inject (and
    // fetch, browsers) resolve them away before a request is sent. Read the status Intake would answer.
    status = await intake.relay.status(id);
    expect(status, `status of ${id} after ${what}`).toBeDefined();
  } else {
    const { response: r } = await intake.send({ method: 'GET', url: `/v1/leads/${encodeURIComponent(id)}`, headers: { 'x-api-key': FUZZ_KEY } });
    expect(r.statusCode, `GET ${id} after ${what}\n→ ${r.body.slice(0, 300)}`).toBe(200);
    status = JSON.parse(r.body) as typeof status;
  }
  expect(status!.id).toBe(id);
  for (const d of destinations) expect(status!.deliveries[d]?.state, `${id} at ${d}`).toBe('queued');
}

// ---------------------------------------------------------------- request shapes

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/vnd.leadrelay.lead+json'];
const FORM_TYPE = 'application/x-www-form-urlencoded';
const WRONG_TYPES = [
  undefined, '', 'text/plain', 'text/html', 'multipart/form-data; boundary=x', 'application/xml', 'application/octet-stream', '*/*', 'application/*',
  'application/json, text/plain', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'application/x-www-form-urlencoded; charset=iso-8859-1',
  'APPLICATION/JSON', 'application/jsonx', 'application/json+', 'application/+json', 'json', ';', ';;;', 'application/json;;;', 'application/json; boundary="',
  `application/${'x'.repeat(2000)}`, 'application/json\t', ' application/json', 'application/x-www-form-urlencoded, application/json',
];

/** The right content type for the body most of the time, a wrong or missing one otherwise. */
function contentTypeFor(format: HostileBody['format']): fc.Arbitrary<string | undefined> {
  const right = format === 'form' ? fc.constant(FORM_TYPE) : format === 'raw' ? fc.constantFrom(...JSON_TYPES, FORM_TYPE) : fc.constantFrom(...JSON_TYPES);
  return fc.oneof({ weight: 8, arbitrary: right }, { weight: 1, arbitrary: fc.constantFrom(...WRONG_TYPES, ...JSON_TYPES, FORM_TYPE) });
}

/** The three ways to carry the key, and some that are not the key. */
const authVariant = fc.constantFrom<(q: URLSearchParams, h: Record<string, string | string[]>) => void>(
  (_q, h) => { h.authorization = `Bearer ${FUZZ_KEY}`; },
  (_q, h) => { h.authorization = `bearer \t ${FUZZ_KEY}  `; },
  (_q, h) => { h['x-api-key'] = FUZZ_KEY; },
  (_q, h) => { h['x-api-key'] = ` ${FUZZ_KEY} `; },
  (q) => { q.set('code', FUZZ_KEY); },
  (q, h) => { q.set('code', FUZZ_KEY); h.authorization = 'Basic b3BzOnBhc3N3b3Jk'; },
);
const badAuth = fc.constantFrom<(q: URLSearchParams, h: Record<string, string | string[]>) => void>(
  () => {},
  (_q, h) => { h.authorization = 'Bearer'; },
  (_q, h) => { h.authorization = 'Bearer '; },
  (_q, h) => { h.authorization = `Bearer ${FUZZ_KEY}x`; },
  (_q, h) => { h.authorization = `Bearer ${FUZZ_KEY.slice(0, -1)}`; },
  (_q, h) => { h.authorization = `Basic ${Buffer.from(`x:${FUZZ_KEY}`).toString('base64')}`; },
  (_q, h) => { h.authorization = `${FUZZ_KEY}`; },
  (_q, h) => { h.authorization = `Bearer ${'k'.repeat(5000)}`; },
  (_q, h) => { h['x-api-key'] = ''; },
  (_q, h) => { h['x-api-key'] = FUZZ_KEY.toUpperCase(); },
  (_q, h) => { h['x-api-key'] = [FUZZ_KEY, 'other']; },
  (_q, h) => { h['x-api-key'] = '\u00ff\u00fe'; },
  (q) => { q.set('code', ''); },
  (q) => { q.append('code', 'wrong'); q.append('code', FUZZ_KEY); },
  (q) => { q.set('Code', FUZZ_KEY); },
  (q) => { q.set('code[]', FUZZ_KEY); },
  (q, h) => { q.set('code', 'wrong'); h['x-api-key'] = 'wrong'; },
);

const safeHeaderValue = fc.string({ unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(9)).map((c) => String.fromCharCode(c)), maxLength: 80 });
const randomHeaders: fc.Arbitrary<Record<string, string>> = fc.dictionary(
  fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), fc.constantFrom('content-encoding', 'content-length', 'transfer-encoding', 'expect', 'host', 'accept',
    'accept-encoding', 'x-forwarded-for', 'x-forwarded-proto', 'origin', 'cookie', 'content-language', 'range', 'if-match', 'connection', 'upgrade', 'te')),
  fc.oneof(safeHeaderValue, fc.constantFrom('gzip', 'identity', 'br, gzip', 'chunked', '100-continue', '0', '-1', '99999999999', 'NaN', '', 'close', 'websocket')),
  { maxKeys: 3 },
);

const offerQuery = sometimes(fc.oneof(anyText(40), hugeString.map((h) => h.slice(0, 3000)), fc.constantFrom('contoso.widget', '', '%', '%zz', ' ')), 30);

function withQuery(path: string, q: URLSearchParams, raw = ''): string {
  const qs = [q.toString(), raw].filter(Boolean).join('&');
  return qs ? `${path}?${qs}` : path;
}

// ---------------------------------------------------------------- properties

describe('intake fuzz (fast-check, real Redis)', () => {
  it('hostile bodies in the three formats and raw: never a 5xx, always problem+json, nothing queued when rejected', async () => {
    const body = fc.oneof(
      { weight: 3, arbitrary: hostileCanonical },
      { weight: 3, arbitrary: hostileMarketplace },
      { weight: 3, arbitrary: hostileForm },
      { weight: 2, arbitrary: hostileRaw },
    ).chain((b) => fc.record({ b: fc.constant(b), type: contentTypeFor(b.format), auth: authVariant, offer: offerQuery, encoding: sometimes(fc.constantFrom('gzip', 'identity', 'deflate', 'br', ''), 5) }));
    await fc.assert(fc.asyncProperty(body, async ({ b, type, auth, offer, encoding }) => {
      count(`body:${b.label}`);
      const q = new URLSearchParams();
      const headers: Record<string, string | string[]> = {};
      auth(q, headers);
      if (offer !== undefined) q.set('offer', offer);
      if (type !== undefined) headers['content-type'] = type;
      if (encoding !== undefined) headers['content-encoding'] = encoding;
      await sendAndCheck({ method: 'POST', url: withQuery('/v1/leads', q), headers, payload: b.body });
    }), runs(2000));
  }, 240_000);

  it('random methods, paths, queries, keys, content types and headers: never a 5xx, errors are problem+json', async () => {
    const method = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS') },
      { weight: 1, arbitrary: fc.constantFrom('TRACE', 'PROPFIND', 'SEARCH', 'MKCOL', 'LOCK', 'QUERY', 'REPORT', 'PURGE') },
    );
    const path = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('/v1/leads', '/v1/leads/', '/healthz', '/readyz', '/metrics', '/healthz/', '/') },
      { weight: 3, arbitrary: validId.map((id) => `/v1/leads/${encodeURIComponent(id)}`) },
      { weight: 2, arbitrary: fc.constantFrom('/v1/leads/a%20b', '/v1/leads/%zz', '/v1/leads/%', '/v1/leads/%E0%A4', '/v1/leads/%00', '/v1/leads/..%2F..%2Fetc',
        `/v1/leads/${'a'.repeat(129)}`, `/v1/leads/${'a'.repeat(300)}`, `/v1/leads/${'%41'.repeat(200)}`, '//v1/leads', '/v1//leads', '/V1/LEADS', '/v1/leads/a/b',
        '/v1/leads/%F0%9F%92%A5', '/v1/leads/ü', '/v1/leads/a;b', '/v1', '/v2/leads', `/${'x'.repeat(3000)}`, '/metrics%00', '/healthz/..', '/v1/leads/%2e%2e') },
      { weight: 2, arbitrary: fc.webPath().map((p) => p || '/') },
      { weight: 1, arbitrary: anyText(30).map((s) => `/v1/leads/${new URLSearchParams({ s }).toString().slice(2)}`) },
    );
    const rawQuery = sometimes(fc.oneof(fc.constantFrom('%', '%zz', 'a=%E0%A4', '&&', '=', 'code', 'offer', 'offer=%', 'code=%FF', 'x[y]=z', 'a=1&a=2&a=3'),
      fc.webQueryParameters()), 30);
    const bodyChoice = fc.oneof(
      { weight: 3, arbitrary: validLead.map((l) => ({ payload: l.body as string | Buffer | undefined, type: l.contentType as string | undefined, query: l.query })) },
      { weight: 2, arbitrary: fc.oneof(hostileCanonical, hostileMarketplace, hostileForm, hostileRaw).chain((b) => contentTypeFor(b.format).map((type) => ({ payload: b.body as string | Buffer | undefined, type, query: '' }))) },
      { weight: 1, arbitrary: fc.constant({ payload: undefined as string | Buffer | undefined, type: undefined as string | undefined, query: '' }) },
      { weight: 1, arbitrary: fc.constantFrom(...WRONG_TYPES).map((type) => ({ payload: '{}' as string | Buffer | undefined, type, query: '' })) },
    );
    const request = fc.record({
      method, path, rawQuery, body: bodyChoice,
      auth: fc.oneof({ weight: 3, arbitrary: authVariant }, { weight: 2, arbitrary: badAuth }),
      headers: randomHeaders,
    });
    await fc.assert(fc.asyncProperty(request, async (c) => {
      const q = new URLSearchParams(c.body.query);
      const headers: Record<string, string | string[]> = { ...c.headers };
      c.auth(q, headers);
      if (c.body.type !== undefined) headers['content-type'] = c.body.type;
      count(`request:${c.method}`);
      const [pathOnly, pathQuery] = c.path.split('?', 2) as [string, string | undefined];
      const url = withQuery(pathOnly, q, [pathQuery, c.rawQuery].filter(Boolean).join('&'));
      const options: InjectOptions = { method: c.method as InjectOptions['method'], url, headers, ...(c.body.payload === undefined ? {} : { payload: c.body.payload }) };
      await sendAndCheck(options);
    }), runs(800));
  }, 240_000);

  it('valid generated leads in every format are accepted (202, 200 on a repeat) and retrievable with GET', async () => {
    await fc.assert(fc.asyncProperty(validLead, fc.constantFrom('bearer', 'x-api-key', 'code'), fc.boolean(), async (lead: ValidLead, where, repeat) => {
      count(`valid:${lead.format}`);
      const q = new URLSearchParams(lead.query);
      const headers: Record<string, string> = { 'content-type': lead.contentType };
      if (where === 'bearer') headers.authorization = `Bearer ${FUZZ_KEY}`;
      else if (where === 'x-api-key') headers['x-api-key'] = FUZZ_KEY;
      else q.set('code', FUZZ_KEY);
      const options: InjectOptions = { method: 'POST', url: withQuery('/v1/leads', q), headers, payload: lead.body };
      const r = await sendAndCheck(options);
      // Generated leads stay well under maxBodyBytes, but a lead is only valid if it fits.
      const fits = Buffer.byteLength(lead.body) <= FUZZ_MAX_BODY;
      expect(fits ? [200, 202] : [413], `${describeCase(options)}\n→ ${r.statusCode} ${r.body.slice(0, 600)}`).toContain(r.statusCode);
      if (!fits) return;
      if (repeat) {
        const again = await sendAndCheck(options);
        expect(again.statusCode, again.body).toBe(200);
        expect(JSON.parse(again.body).id).toBe(JSON.parse(r.body).id);
      }
    }), runs(500));
  }, 240_000);

  it('bodies around intake.maxBodyBytes: up to the limit accepted, one byte over is 413', async () => {
    // A valid lead padded through its description to exactly maxBodyBytes + delta bytes.
    const padded = fc.tuple(fc.constantFrom('canonical', 'marketplace', 'form'), fc.integer({ min: -3, max: 3 }), canonicalLead, marketplaceLead, formLead, fc.constantFrom('x', 'é'))
      .map(([format, delta, canonical, marketplace, form, pad]) => {
        const target = FUZZ_MAX_BODY + delta;
        // Fresh content per case so no padded lead is a duplicate of another.
        const unique = `${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
        const render = (description: string): string => {
          if (format === 'canonical') return toJsonText({ ...canonical, description: `${unique}${description}` });
          if (format === 'marketplace') return toJsonText(new Entries([...marketplace.body.entries.filter(([k]) => k.toLowerCase() !== 'description'), ['Description', `${unique}${description}`]]));
          return formText([...form.filter(([k]) => k !== 'description'), ['description', `${unique}${description}`]]);
        };
        const base = Buffer.byteLength(render(''));
        // Multi-byte padding (é: 2 bytes, 6 as %C3%A9 in a form) stops short; ASCII fills the rest exactly.
        const unit = Buffer.byteLength(render(pad)) - base;
        const room = Math.max(0, target - base);
        const body = render(pad.repeat(Math.floor(room / unit / 2)) + 'x'.repeat(room - Math.floor(room / unit / 2) * unit));
        return { format, delta, body, query: format === 'marketplace' ? marketplace.query : '' };
      });
    await fc.assert(fc.asyncProperty(padded, async ({ format, delta, body, query }) => {
      count(`size:${format}`);
      fc.pre(Buffer.byteLength(body) === FUZZ_MAX_BODY + delta);
      const url = query ? `/v1/leads?${query}` : '/v1/leads';
      const r = await sendAndCheck({ method: 'POST', url, headers: { authorization: `Bearer ${FUZZ_KEY}`, 'content-type': format === 'form' ? FORM_TYPE : 'application/json' }, payload: body });
      if (delta > 0) expect(r.statusCode, r.body).toBe(413);
      // The description may exceed its own limit (32768) only far above maxBodyBytes, so within the limit it is valid.
      else expect([200, 202], `${format} ${delta}: ${r.body}`).toContain(r.statusCode);
    }), runs(90));
  }, 120_000);

  it('form posts: a repeated field keeps its first value, whatever the repeats hold', async () => {
    await fc.assert(fc.asyncProperty(formLead, fc.array(fc.oneof(anyText(60), hugeString.map((h) => h.slice(0, 200))), { minLength: 1, maxLength: 3 }), async (pairs, junk) => {
      count('form:repeats');
      const first = pairs.filter(([k], i) => pairs.findIndex(([kk]) => kk === k) === i);
      // Repeats of fields the lead has (lead_source always), after their first value.
      const present = first.map(([k]) => k).filter((k) => k === 'lead_source' || k === 'email' || k === 'company');
      const withRepeats: [string, string][] = [...first, ...present.flatMap((k) => junk.map((v) => [k, v] as [string, string]))];
      fc.pre(Buffer.byteLength(formText(withRepeats)) <= FUZZ_MAX_BODY);
      const headers = { authorization: `Bearer ${FUZZ_KEY}`, 'content-type': FORM_TYPE };
      const a = await sendAndCheck({ method: 'POST', url: '/v1/leads', headers, payload: formText(withRepeats) });
      const b = await sendAndCheck({ method: 'POST', url: '/v1/leads', headers, payload: formText(first) });
      expect([200, 202]).toContain(a.statusCode);
      // The same lead either way: the repeats changed nothing.
      expect(b.statusCode).toBe(200);
      expect(JSON.parse(b.body).id).toBe(JSON.parse(a.body).id);
    }), runs(60));
  }, 120_000);

  it('after the run: no error was logged, and Redis holds exactly the accepted leads and their jobs', async () => {
    expect(intake.errorLines).toEqual([]);
    const stored = await intake.storedLeadIds();
    expect([...stored].sort()).toEqual([...intake.accepted.keys()].sort());
    const jobs = [...intake.accepted.values()].reduce((n, d) => n + d.length, 0);
    expect(await intake.totalJobs()).toBe(jobs);
    expect(intake.accepted.size).toBeGreaterThan(300);
    // Nothing else was written: each key is an accepted lead's record, an id-less lead's dedupe entry, a lead
    // identity (the same customer action arriving again merges into it), the lead search index (by time, keyed
    // email hash, offer) or a queue's.
    const root = `{${intake.prefix}}:`;
    const kinds = new Map<string, number>();
    const allKeys = await intake.keys();
    const identityKeys = allKeys.filter((k) => k.slice(root.length).startsWith('identity:'));
    const identityHolders = new Map(await Promise.all(identityKeys.map(async (k) => [k, await intake.get(k) ?? ''] as const)));
    for (const k of allKeys) {
      const rest = k.slice(root.length);
      const kind = rest.startsWith('lead:') && intake.accepted.has(rest.slice(5)) ? 'lead'
        : rest.startsWith('dedupe:') ? 'dedupe'
          : rest.startsWith('identity:') && intake.accepted.has(identityHolders.get(k) ?? '') ? 'identity'
          : rest === 'idx:time' || rest === 'idx:offers' ? rest
          : /^idx:email:[0-9a-f]{32}$/.test(rest) ? 'idx:email' : rest.startsWith('idx:offer:') ? 'idx:offer'
          : /^q:(all|ins|contoso):/.test(rest) ? 'queue' : `unexpected ${rest}`;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    console.log(`keys under the prefix: ${JSON.stringify(Object.fromEntries(kinds))}`);
    expect([...kinds.keys()].filter((k) => k.startsWith('unexpected'))).toEqual([]);
    expect(kinds.get('lead')).toBe(intake.accepted.size);
    expect(kinds.get('dedupe') ?? 0).toBeLessThanOrEqual(intake.accepted.size);
    expect(kinds.get('identity') ?? 0).toBeLessThanOrEqual(intake.accepted.size);
    // Every accepted lead is in the time index, and only they.
    expect(new Set(await intake.relay.redis.zrange(`${root}idx:time`, 0, -1))).toEqual(new Set(intake.accepted.keys()));
    expect(kinds.get('idx:email') ?? 0).toBeLessThanOrEqual(intake.accepted.size);
    expect(kinds.get('idx:offer') ?? 0).toBeLessThanOrEqual(intake.accepted.size);
  }, 60_000);
});
