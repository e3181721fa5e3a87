import { afterEach, describe, expect, it } from 'vitest';
import { FakeMarketo, MARKETO_REAL_LIMITS, type FakeMarketoOptions } from './index.js';

let fake: FakeMarketo | undefined;

async function start(options: FakeMarketoOptions = {}): Promise<FakeMarketo> {
  fake = await FakeMarketo.start(options);
  return fake;
}

afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

async function token(f: FakeMarketo, clientId = f.clientId, secret = f.clientSecret): Promise<{ status: number; body: Record<string, unknown> }> {
  const q = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret });
  const res = await fetch(`${f.identityUrl}/oauth/token?${q}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

interface Envelope {
  requestId: string;
  success: boolean;
  result?: { id?: number; status?: string; reasons?: { code: string; message: string }[] }[];
  errors?: { code: string; message: string }[];
}

async function rest(f: FakeMarketo, path: string, body?: unknown, opts: { token?: string; method?: string; contentType?: string } = {}): Promise<Envelope> {
  const bearer = opts.token ?? String((await token(f)).body.access_token);
  const res = await fetch(`${f.url}${path}`, {
    method: opts.method ?? (body === undefined ? 'GET' : 'POST'),
    headers: { Authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'Content-Type': opts.contentType ?? 'application/json' }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Envelope;
}

const sync = (input: Record<string, unknown>[], extra: Record<string, unknown> = {}) => ({ action: 'createOrUpdate', lookupField: 'email', input, ...extra });

describe('Identity', () => {
  it('issues bearer tokens and returns the same one with its remaining life until it expires', async () => {
    let now = 1_700_000_000_000;
    const f = await start({ now: () => now });
    const a = await token(f);
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ token_type: 'bearer', expires_in: 3599, scope: expect.any(String) });
    expect(String(a.body.access_token)).toMatch(/:ab$/);
    now += 600_000;
    const b = await token(f);
    expect(b.body.access_token).toBe(a.body.access_token);
    expect(b.body.expires_in).toBe(3000);
    f.expireTokens();
    expect((await token(f)).body.access_token).not.toBe(a.body.access_token);
  });

  it('answers 401 with Marketo JSON for a bad secret or an unknown client, 400 for a bad grant', async () => {
    const f = await start();
    expect(await token(f, f.clientId, 'nope')).toEqual({ status: 401, body: { error: 'unauthorized', error_description: 'Bad credentials' } });
    const unknown = await token(f, 'ghost', 'x');
    expect(unknown.status).toBe(401);
    expect(unknown.body.error_description).toBe('No client with requested id: ghost');
    const res = await fetch(`${f.identityUrl}/oauth/token?grant_type=password`);
    expect(res.status).toBe(400);
  });
});

describe('REST authentication', () => {
  it('601 without or with an unknown token, 602 once expired, 601 once revoked', async () => {
    const f = await start();
    expect((await rest(f, '/rest/v1/leads/describe.json', undefined, { token: 'bogus' })).errors![0]!.code).toBe('601');
    const t = String((await token(f)).body.access_token);
    expect((await rest(f, '/rest/v1/leads/describe.json', undefined, { token: t })).success).toBe(true);
    f.expireTokens();
    expect((await rest(f, '/rest/v1/leads/describe.json', undefined, { token: t })).errors).toEqual([{ code: '602', message: 'Access token expired' }]);
    const t2 = String((await token(f)).body.access_token);
    f.revokeTokens();
    expect((await rest(f, '/rest/v1/leads/describe.json', undefined, { token: t2 })).errors![0]!.code).toBe('601');
  });

  it('accepts the legacy access_token query parameter', async () => {
    const f = await start();
    const t = String((await token(f)).body.access_token);
    const res = await fetch(`${f.url}/rest/v1/leads/describe.json?access_token=${encodeURIComponent(t)}`);
    expect(((await res.json()) as Envelope).success).toBe(true);
  });
});

describe('sync leads', () => {
  it('upserts by email (case-insensitive): created, then updated, results in input order', async () => {
    const f = await start();
    const first = await rest(f, '/rest/v1/leads.json', sync([{ email: 'a@x.example', firstName: 'A' }, { email: 'b@x.example' }]));
    expect(first.requestId).toMatch(/#/);
    expect(first.result!.map((r) => r.status)).toEqual(['created', 'created']);
    const second = await rest(f, '/rest/v1/leads.json', sync([{ email: 'B@X.example', lastName: 'Bee' }, { email: 'c@x.example' }]));
    expect(second.result![0]).toEqual({ id: first.result![1]!.id, status: 'updated' });
    expect(second.result![1]!.status).toBe('created');
    expect(f.uniqueLeadCount).toBe(3);
    expect(f.leadByEmail('b@x.example')!.fields).toMatchObject({ email: 'B@X.example', lastName: 'Bee' });
    expect(f.leadByEmail('b@x.example')!.writes).toBe(2);
    expect(f.duplicates()).toEqual([]);
  });

  it('with concurrentUpsertDuplicates: false, the same key twice in one batch is created once, then updated', async () => {
    const f = await start({ concurrentUpsertDuplicates: false });
    const r = await rest(f, '/rest/v1/leads.json', sync([{ email: 'a@x.example' }, { email: 'a@x.example', title: 'CTO' }]));
    expect(r.result!.map((x) => x.status)).toEqual(['created', 'updated']);
    expect(r.result![0]!.id).toBe(r.result![1]!.id);
  });

  it('skips records by rule, unknown field, non-ASCII email and missing lookup value; the rest succeed', async () => {
    const f = await start();
    f.rejectEmail('bad@x.example', '1006', "Field 'foo' not found");
    const r = await rest(f, '/rest/v1/leads.json', sync([
      { email: 'ok@x.example' }, { email: 'bad@x.example' }, { email: 'u@x.example', nope__c: 1 }, { email: 'é@x.example' }, { firstName: 'NoKey' },
    ]));
    expect(r.success).toBe(true);
    expect(r.result!.map((x) => x.status)).toEqual(['created', 'skipped', 'skipped', 'skipped', 'skipped']);
    expect(r.result!.slice(1).map((x) => x.reasons![0]!.code)).toEqual(['1006', '1006', '1003', '1002']);
    expect(r.result![2]!.reasons![0]!.message).toBe("Field 'nope__c' not found");
    expect(f.uniqueLeadCount).toBe(1);
  });

  it('createOnly / updateOnly report 1005 / 1004', async () => {
    const f = await start();
    await rest(f, '/rest/v1/leads.json', sync([{ email: 'a@x.example' }]));
    expect((await rest(f, '/rest/v1/leads.json', sync([{ email: 'a@x.example' }], { action: 'createOnly' }))).result![0]!.reasons![0]!.code).toBe('1005');
    expect((await rest(f, '/rest/v1/leads.json', sync([{ email: 'z@x.example' }], { action: 'updateOnly' }))).result![0]!.reasons![0]!.code).toBe('1004');
  });

  it('more than 300 records is refused as a whole (1003)', async () => {
    const f = await start();
    const r = await rest(f, '/rest/v1/leads.json', sync(Array.from({ length: 301 }, (_, i) => ({ email: `${i}@x.example` }))));
    expect(r.success).toBe(false);
    expect(r.errors![0]!.code).toBe('1003');
    expect(f.uniqueLeadCount).toBe(0);
  });

  it('can be queried back by filterType', async () => {
    const f = await start();
    await rest(f, '/rest/v1/leads.json', sync([{ email: 'q@x.example', firstName: 'Q' }]));
    const r = await rest(f, '/rest/v1/leads.json?filterType=email&filterValues=q@x.example');
    expect(r.result).toEqual([expect.objectContaining({ email: 'q@x.example', firstName: 'Q' })]);
  });

  it('like a real instance (by default), overlapping upserts of one key create a duplicate', async () => {
    const f = await start();
    const t = String((await token(f)).body.access_token);
    const release = f.hold();
    const calls = [rest(f, '/rest/v1/leads.json', sync([{ email: 'dup@x.example' }]), { token: t }), rest(f, '/rest/v1/leads.json', sync([{ email: 'dup@x.example' }]), { token: t })];
    await f.waitForInFlight(2);
    release();
    const results = await Promise.all(calls);
    expect(results.map((r) => r.result![0]!.status)).toEqual(['created', 'created']);
    expect(f.duplicates()).toHaveLength(1);
  });
});

describe('same key and over-long values', () => {
  it('the same email twice in one call creates two persons (undocumented: the pessimistic reading); off, one', async () => {
    const f = await start();
    const r = await rest(f, '/rest/v1/leads.json', sync([{ email: 'twice@x.example' }, { email: 'TWICE@x.example' }]));
    expect(r.result!.map((x) => x.status)).toEqual(['created', 'created']);
    expect(f.duplicates()).toHaveLength(1);
    await f.stop();
    const g = await start({ concurrentUpsertDuplicates: false });
    const s = await rest(g, '/rest/v1/leads.json', sync([{ email: 'twice@x.example' }, { email: 'TWICE@x.example' }]));
    expect(s.result!.map((x) => x.status)).toEqual(['created', 'updated']);
  });

  it('a string over its describe length skips the record with 1003 (or is cut with overLongValues: truncate)', async () => {
    const f = await start({ fieldLengths: { title: 10 } });
    const r = await rest(f, '/rest/v1/leads.json', sync([{ email: 'a@x.example', firstName: 'x'.repeat(256) }, { email: 'b@x.example', title: 'y'.repeat(11) }, { email: 'c@x.example', firstName: 'x'.repeat(255) }]));
    expect(r.result!.map((x) => x.reasons?.[0]?.code ?? x.status)).toEqual(['1003', '1003', 'created']);
    const d = await rest(f, '/rest/v1/leads/describe.json');
    const fields = d.result as unknown as { rest: { name: string }; length?: number }[];
    expect(fields.find((x) => x.rest.name === 'title')!.length).toBe(10);
    expect(fields.find((x) => x.rest.name === 'firstName')!.length).toBe(255);
    await f.stop();
    const g = await start({ overLongValues: 'truncate' });
    await rest(g, '/rest/v1/leads.json', sync([{ email: 'a@x.example', firstName: 'x'.repeat(300) }]));
    expect(g.leadByEmail('a@x.example')!.fields.firstName).toBe('x'.repeat(255));
  });
});

describe('push and submitForm', () => {
  it('the Asset API lists a form\'s fields by SOAP name; describe maps them to REST names', async () => {
    const f = await start({ forms: { 1179: ['email', 'firstName', 'address', 'Profiling'] } });
    const r = await rest(f, '/rest/asset/v1/form/1179/fields.json');
    const ids = (r.result as unknown as { id: string }[]).map((x) => x.id);
    expect(ids).toEqual(['Email', 'FirstName', 'Street', 'Profiling']);
    const d = await rest(f, '/rest/v1/leads/describe.json');
    const street = (d.result as unknown as { rest: { name: string }; soap: { name: string } }[]).find((x) => x.soap.name === 'Street')!;
    expect(street.rest.name).toBe('address');
    const unknown = await rest(f, '/rest/asset/v1/form/9/fields.json');
    expect(unknown).toMatchObject({ success: true });
    expect(unknown.result).toBeUndefined();
  });

  it('push needs a known program and records the activity', async () => {
    const f = await start({ programs: ['Launch'] });
    expect((await rest(f, '/rest/v1/leads/push.json', { programName: 'Other', input: [{ email: 'a@x.example' }] })).errors![0]!.code).toBe('1013');
    expect((await rest(f, '/rest/v1/leads/push.json', { input: [{ email: 'a@x.example' }] })).errors![0]!.code).toBe('701');
    const ok = await rest(f, '/rest/v1/leads/push.json', { programName: 'Launch', lookupField: 'email', input: [{ email: 'a@x.example' }] });
    expect(ok.result![0]!.status).toBe('created');
    expect(f.leadByEmail('a@x.example')!.activities).toEqual([expect.objectContaining({ type: 'push', programName: 'Launch' })]);
  });

  it('submitForm takes one record, needs email and only the form fields', async () => {
    const f = await start({ forms: { 1179: ['email', 'firstName'] } });
    const post = (body: unknown) => rest(f, '/rest/v1/leads/submitForm.json', body);
    expect((await post({ formId: 9, input: [{ leadFormFields: { email: 'a@x.example' } }] })).errors![0]!.code).toBe('1013');
    expect((await post({ formId: 1179, input: [{ leadFormFields: { email: 'a@x.example' } }, { leadFormFields: { email: 'b@x.example' } }] })).errors![0]!.code).toBe('1003');
    expect((await post({ formId: 1179, input: [{ leadFormFields: { firstName: 'A' } }] })).result![0]!.reasons![0]!.code).toBe('1002');
    expect((await post({ formId: 1179, input: [{ leadFormFields: { email: 'a@x.example', title: 'CTO' } }] })).result![0]!.reasons![0]!.code).toBe('1006');
    const ok = await post({ formId: 1179, input: [{ leadFormFields: { email: 'a@x.example', firstName: 'A' } }] });
    expect(ok.result![0]!.status).toBe('created');
    expect(f.leadByEmail('a@x.example')!.activities[0]).toMatchObject({ type: 'form', formId: 1179 });
  });
});

describe('request validation', () => {
  it('612 for a non-JSON content type, 609 for bad JSON, 610 for an unknown resource, 605 for a wrong method', async () => {
    const f = await start();
    expect((await rest(f, '/rest/v1/leads.json', 'input=1', { contentType: 'application/x-www-form-urlencoded' })).errors![0]!.code).toBe('612');
    expect((await rest(f, '/rest/v1/leads.json', '{"input": [', {})).errors![0]!.code).toBe('609');
    expect((await rest(f, '/rest/v1/nothing.json')).errors![0]!.code).toBe('610');
    expect((await rest(f, '/rest/v1/leads/push.json', undefined, { method: 'GET' })).errors![0]!.code).toBe('605');
  });

  it('HTTP 413 past 1 MB', async () => {
    const f = await start();
    const t = String((await token(f)).body.access_token);
    const res = await fetch(`${f.url}/rest/v1/leads.json`, {
      method: 'POST', headers: { Authorization: `Bearer ${t}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(sync([{ email: 'a@x.example', title: 'x'.repeat(1024 * 1024) }])),
    });
    expect(res.status).toBe(413);
  });

  it('603 when access is denied', async () => {
    const f = await start();
    f.denyAccess();
    expect((await rest(f, '/rest/v1/leads/describe.json')).errors).toEqual([{ code: '603', message: 'Access denied' }]);
  });
});

describe('limits', () => {
  it('606 past 100 calls in a rolling 20 s window', async () => {
    let now = 1_700_000_000_000;
    const f = await start({ limits: MARKETO_REAL_LIMITS, now: () => now });
    const t = String((await token(f)).body.access_token);
    for (let i = 0; i < 100; i++) {
      expect((await rest(f, '/rest/v1/leads/describe.json', undefined, { token: t })).success).toBe(true);
      now += 150; // 100 calls over 15 s
    }
    const limited = await rest(f, '/rest/v1/leads/describe.json', undefined, { token: t });
    expect(limited.errors).toEqual([{ code: '606', message: "Max rate limit '100' exceeded with in '20' secs" }]);
    now += 5_001; // the oldest call leaves the window
    expect((await rest(f, '/rest/v1/leads/describe.json', undefined, { token: t })).success).toBe(true);
    expect(f.stats.acceptedCalls).toBe(101);
    expect(f.stats.restCalls).toBe(102);
  });

  it('615 when 10 calls are already running', async () => {
    const f = await start({ limits: { maxConcurrent: 10 } });
    const t = String((await token(f)).body.access_token);
    const release = f.hold();
    const running = Array.from({ length: 10 }, () => rest(f, '/rest/v1/leads/describe.json', undefined, { token: t }));
    await f.waitForInFlight(10);
    expect((await rest(f, '/rest/v1/leads/describe.json', undefined, { token: t })).errors![0]!.code).toBe('615');
    release();
    expect((await Promise.all(running)).every((r) => r.success)).toBe(true);
    expect(f.stats.maxInFlight).toBe(10);
  });

  it('607 once the daily quota is used up, until reset', async () => {
    const f = await start({ limits: { dailyQuota: 2 } });
    const t = String((await token(f)).body.access_token);
    await rest(f, '/rest/v1/leads/describe.json', undefined, { token: t });
    await rest(f, '/rest/v1/leads/describe.json', undefined, { token: t });
    expect((await rest(f, '/rest/v1/leads/describe.json', undefined, { token: t })).errors![0]!.code).toBe('607');
    f.resetDailyQuota();
    expect((await rest(f, '/rest/v1/leads/describe.json', undefined, { token: t })).success).toBe(true);
  });
});

describe('fault injection', () => {
  it('answers the next N calls with a code, then behaves normally', async () => {
    const f = await start();
    const t = String((await token(f)).body.access_token);
    f.failNext(2, { code: '608' });
    const codes = [];
    for (let i = 0; i < 3; i++) {
      const r = await rest(f, '/rest/v1/leads/describe.json', undefined, { token: t });
      codes.push(r.success ? 'ok' : r.errors![0]!.code);
    }
    expect(codes).toEqual(['608', '608', 'ok']);
  });

  it('HTTP statuses, dropped connections and identity faults', async () => {
    const f = await start();
    const t = String((await token(f)).body.access_token);
    f.failNext(1, { httpStatus: 502, body: 'Bad Gateway' });
    expect((await fetch(`${f.url}/rest/v1/leads/describe.json`, { headers: { Authorization: `Bearer ${t}` } })).status).toBe(502);
    f.failNext(1, { drop: true });
    await expect(fetch(`${f.url}/rest/v1/leads/describe.json`, { headers: { Authorization: `Bearer ${t}` } })).rejects.toThrow();
    f.failNext(1, { httpStatus: 500, body: { error: 'server_error' } }, 'identity');
    expect((await token(f)).status).toBe(500);
    expect((await token(f)).status).toBe(200);
  });
});
