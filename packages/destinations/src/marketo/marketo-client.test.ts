import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DeliveryError, InvalidAuthenticationError, InvalidConfigurationError, PayloadValidationError, RetryableError, ThrottledError,
  type CustomerInfo, type Lead,
} from '@leadrelay/core';
import { silentLogger } from '@leadrelay/observability';
import { FakeMarketo } from '../../../../test/fakes/marketo/index.js';
import { MemoryKeyLocks, MemoryRollingQuota } from '../shared/index.js';
import type { BatchItemResult, DestinationContext } from '../destination.js';
import { MarketoClient, type MarketoClientOptions } from './marketo-client.js';
import { marketo } from './index.js';
import { marketoSettings } from './settings.js';
import { deliveryFailure } from '../../../../test/helpers/delivery-failure.js';

const SECRET = 'S3cr3t-Marketo-Value-7781!';
const ctx: DestinationContext = {
  logger: silentLogger,
  placeholder: '[not provided]',
  rollingQuota: (_n, limit, windowMs) => new MemoryRollingQuota(limit, windowMs),
};

function lead(id: string, customer: Partial<CustomerInfo> = {}, extra: Partial<Lead> = {}): Lead {
  return {
    id,
    source: 'AzureMarketplace',
    action: 'INS',
    offer: 'contoso.widget-pro',
    offerTitle: 'Widget Pro',
    customer: {
      firstName: 'Ada', lastName: 'Lovelace', email: `${id}@contoso.example`, phone: '1234567890', country: 'US', company: 'Contoso', title: 'CTO',
      ...customer,
    },
    description: 'Wants a demo',
    createdAt: '2024-05-01T10:00:00.000Z',
    testLead: false,
    ...extra,
  };
}

let fake: FakeMarketo;
const clients: MarketoClient[] = [];

function makeClient(settings: Record<string, unknown> = {}, options: MarketoClientOptions = {}): MarketoClient {
  const parsed = marketoSettings.parse({ restUrl: fake.url, clientId: FakeMarketo.CLIENT_ID, clientSecret: SECRET, ...settings });
  const client = new MarketoClient({ ...parsed, id: 'mkto', type: 'marketo', enabled: true, allowInsecure: false, fields: settings.fields as never }, ctx, options);
  clients.push(client);
  return client;
}

const failure = deliveryFailure;

beforeEach(async () => {
  fake = await FakeMarketo.start({ clients: { [FakeMarketo.CLIENT_ID]: SECRET } });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await fake.stop();
});

describe('requests per operation', () => {
  it('sync upserts with leads.json createOrUpdate, bearer token, default mapping', async () => {
    const client = makeClient();
    const delivered = await client.deliver(lead('l1'));

    const [call] = fake.callsTo('/rest/v1/leads.json');
    // describe (read once per client, for field lengths) and the write.
    expect(fake.restCalls.map((c) => c.path)).toEqual(['/rest/v1/leads/describe.json', '/rest/v1/leads.json']);
    expect(call!.method).toBe('POST');
    expect(call!.headers['content-type']).toContain('application/json');
    expect(call!.body).toEqual({
      action: 'createOrUpdate',
      lookupField: 'email',
      input: [{
        firstName: 'Ada', lastName: 'Lovelace', email: 'l1@contoso.example', phone: '1234567890', country: 'US', company: 'Contoso', title: 'CTO',
        leadSource: 'AzureMarketplace-INS|contoso.widget-pro',
      }],
    });
    const token = (fake.identityCalls[0]!.response as { access_token: string }).access_token;
    expect(call!.headers.authorization).toBe(`Bearer ${token}`);
    expect(call!.query).toEqual({});
    const stored = fake.leadByEmail('l1@contoso.example')!;
    expect(delivered).toEqual({ remoteId: String(stored.id) });
    expect(stored.activities.map((a) => a.type)).toEqual(['sync']);
  });

  it('asks Identity with client credentials in the documented GET form', async () => {
    await makeClient().deliver(lead('l1'));
    const [id] = fake.identityCalls;
    expect(id!.method).toBe('GET');
    expect(id!.path).toBe('/identity/oauth/token');
    expect(id!.query).toEqual({ grant_type: 'client_credentials', client_id: FakeMarketo.CLIENT_ID, client_secret: SECRET });
  });

  it('push posts {programName, lookupField, input} to leads/push.json', async () => {
    const client = makeClient({ operation: 'push', programName: 'Marketplace Leads 2024' });
    await client.deliver(lead('p1', { phone: undefined, title: '' }));
    const [call] = fake.callsTo('/rest/v1/leads/push.json');
    expect(call!.body).toEqual({
      programName: 'Marketplace Leads 2024',
      lookupField: 'email',
      input: [{
        firstName: 'Ada', lastName: 'Lovelace', email: 'p1@contoso.example', country: 'US', company: 'Contoso',
        leadSource: 'AzureMarketplace-INS|contoso.widget-pro',
      }],
    });
    expect(fake.leadByEmail('p1@contoso.example')!.activities[0]).toMatchObject({ type: 'push', programName: 'Marketplace Leads 2024' });
  });

  it('form posts {formId, input:[{leadFormFields}]} to leads/submitForm.json, one record per call', async () => {
    const client = makeClient({ operation: 'form', formId: 1179 });
    const results = await client.deliverBatch([lead('f1'), lead('f2')]);
    expect(results.map((r) => r.ok)).toEqual([true, true]);
    const calls = fake.callsTo('/rest/v1/leads/submitForm.json');
    expect(calls).toHaveLength(2);
    expect(calls[0]!.body).toEqual({
      formId: 1179,
      input: [{
        leadFormFields: {
          firstName: 'Ada', lastName: 'Lovelace', email: 'f1@contoso.example', phone: '1234567890', country: 'US', company: 'Contoso', title: 'CTO',
          leadSource: 'AzureMarketplace-INS|contoso.widget-pro',
        },
      }],
    });
    expect((calls[1]!.body as { input: { leadFormFields: { email: string } }[] }).input[0]!.leadFormFields.email).toBe('f2@contoso.example');
  });

  it('batches form submissions one lead at a time in the definition, sync/push up to batchSize', () => {
    const base = { restUrl: 'https://123-ABC-456.mktorest.com', clientId: 'id', clientSecret: 'x' };
    const common = { id: 'm', type: 'marketo', enabled: true, allowInsecure: false };
    expect(marketo.batching!({ ...marketoSettings.parse({ ...base, operation: 'form', formId: 1 }), ...common })!.maxSize).toBe(1);
    expect(marketo.batching!({ ...marketoSettings.parse({ ...base, batchSize: 120 }), ...common })!.maxSize).toBe(120);
  });

  it('fields: add and override the default mapping, rendered per lead; blank values are not sent', async () => {
    const client = makeClient({ fields: { leadSource: 'Microsoft Marketplace', company: '{{customer.company}} Ltd', industry: '{{extra.industry}}', leadScore: 10 } });
    await client.deliver(lead('o1', {}, { extra: { industry: 'Retail' } }));
    await client.deliver(lead('o2'));
    const inputs = fake.callsTo('/rest/v1/leads.json').map((c) => (c.body as { input: Record<string, unknown>[] }).input[0]!);
    expect(inputs[0]).toMatchObject({ leadSource: 'Microsoft Marketplace', company: 'Contoso Ltd', industry: 'Retail', leadScore: 10 });
    expect(inputs[1]).not.toHaveProperty('industry');
  });

  it('upserts: the same email twice is one Marketo lead, updated the second time', async () => {
    const client = makeClient();
    const first = await client.deliver(lead('u1', { email: 'same@contoso.example' }));
    const second = await client.deliver(lead('u2', { email: 'SAME@contoso.example', title: 'CEO' }));
    expect(second.remoteId).toBe(first.remoteId);
    expect(fake.uniqueLeadCount).toBe(1);
    expect(fake.leadByEmail('same@contoso.example')!.fields.title).toBe('CEO');
  });
});

describe('batches', () => {
  it('sends up to 300 leads in one call and returns results in input order', async () => {
    const client = makeClient();
    const leads = Array.from({ length: 300 }, (_, i) => lead(`b${i}`));
    const results = await client.deliverBatch(leads);
    expect(fake.callsTo('/rest/v1/leads.json')).toHaveLength(1);
    expect(results).toHaveLength(300);
    results.forEach((r, i) => {
      expect(r.ok).toBe(true);
      expect((r as { remoteId: string }).remoteId).toBe(String(fake.leadByEmail(`b${i}@contoso.example`)!.id));
    });
  });

  it('a skipped record fails only its own lead, with Marketo code and message', async () => {
    fake.rejectEmail('b2@contoso.example', '1003', 'Invalid data');
    const results = await makeClient().deliverBatch([lead('b1'), lead('b2'), lead('b3')]);
    expect(results[0]).toMatchObject({ ok: true });
    expect(results[2]).toMatchObject({ ok: true });
    const failed = results[1] as Extract<BatchItemResult, { ok: false }>;
    expect(failed.ok).toBe(false);
    expect(failed.error).toBeInstanceOf(PayloadValidationError);
    expect(failed.error.destinationCode).toBe('1003');
    expect(failed.error.message).toContain('1003 Invalid data');
    expect(failed.error.remediation).toMatch(/dlq replay/);
    expect(fake.uniqueLeadCount).toBe(2);
  });

  it('an unknown field (1006) skips with a remediation naming Field Management', async () => {
    const results = await makeClient({ fields: { notAField__c: 'x' } }).deliverBatch([lead('x1')]);
    const r = results[0] as Extract<BatchItemResult, { ok: false }>;
    expect(r.error.destinationCode).toBe('1006');
    expect(r.error.message).toContain("Field 'notAField__c' not found");
    expect(r.error.remediation).toContain('Field Management');
  });

  it('deliver() of one skipped lead throws its PayloadValidationError', async () => {
    fake.rejectEmail('s1@contoso.example', '1007', 'Multiple leads match the lookup criteria');
    const err = await failure(makeClient().deliver(lead('s1')));
    expect(err).toBeInstanceOf(PayloadValidationError);
    expect(err.destinationCode).toBe('1007');
  });

  it('a lead without the lookup value is failed locally and never sent; the rest still go in one call', async () => {
    const client = makeClient();
    const results = await client.deliverBatch([lead('m1'), lead('m2', { email: undefined }), lead('m3', { email: '  ' })]);
    const sent = fake.callsTo('/rest/v1/leads.json');
    expect(sent).toHaveLength(1);
    expect((sent[0]!.body as { input: { email?: string }[] }).input.map((r) => r.email)).toEqual(['m1@contoso.example']);
    expect(results[0]!.ok).toBe(true);
    for (const r of [results[1], results[2]] as Extract<BatchItemResult, { ok: false }>[]) {
      expect(r.error).toBeInstanceOf(PayloadValidationError);
      expect(r.error.message).toContain("no 'email'");
      expect(r.error.remediation).toContain('fields:');
    }
  });

  it('a lone lead without email makes no call at all (not even a token)', async () => {
    const err = await failure(makeClient().deliver(lead('m4', { email: undefined })));
    expect(err).toBeInstanceOf(PayloadValidationError);
    expect(fake.calls).toHaveLength(0);
  });

  it('with another lookupField, that field is required instead of email', async () => {
    const client = makeClient({ lookupField: 'phone' });
    const results = await client.deliverBatch([lead('k1', { email: undefined }), lead('k2', { phone: undefined })]);
    expect(results[0]!.ok).toBe(true);
    expect((results[1] as Extract<BatchItemResult, { ok: false }>).error.message).toContain("no 'phone'");
    expect((fake.callsTo('/rest/v1/leads.json')[0]!.body as { lookupField: string }).lookupField).toBe('phone');
  });

  it('emails must be ASCII: an IDN domain is sent as punycode, a non-ASCII local part is rejected unsent', async () => {
    const results = await makeClient().deliverBatch([lead('a1', { email: 'ada@bücher.example' }), lead('a2', { email: 'jürgen@contoso.example' })]);
    expect(results[0]!.ok).toBe(true);
    expect(fake.leadByEmail('ada@xn--bcher-kva.example')).toBeDefined();
    const r = results[1] as Extract<BatchItemResult, { ok: false }>;
    expect(r.error).toBeInstanceOf(PayloadValidationError);
    expect(r.error.message).toContain('ASCII');
    expect((fake.callsTo('/rest/v1/leads.json')[0]!.body as { input: unknown[] }).input).toHaveLength(1);
  });
});

describe('access token', () => {
  it('is fetched once and reused across calls', async () => {
    const client = makeClient();
    for (let i = 0; i < 3; i++) await client.deliver(lead(`t${i}`));
    expect(fake.identityCalls).toHaveLength(1);
    const auth = new Set(fake.restCalls.map((c) => c.headers.authorization));
    expect(auth.size).toBe(1);
  });

  it('is renewed on 602 and the call retried once', async () => {
    const client = makeClient();
    await client.deliver(lead('e1'));
    fake.expireTokens();
    const out = await client.deliver(lead('e2'));
    expect(out.remoteId).toBeDefined();
    expect(fake.identityCalls).toHaveLength(2);
    const calls = fake.callsTo('/rest/v1/leads.json');
    expect(calls).toHaveLength(3);
    expect((calls[1]!.response as { errors: { code: string }[] }).errors[0]!.code).toBe('602');
    expect(calls[2]!.headers.authorization).not.toBe(calls[1]!.headers.authorization);
    expect(fake.leadByEmail('e2@contoso.example')).toBeDefined();
  });

  it('is renewed on 601 (invalid) too', async () => {
    const client = makeClient();
    await client.deliver(lead('r1'));
    fake.revokeTokens();
    await client.deliver(lead('r2'));
    expect(fake.identityCalls).toHaveLength(2);
  });

  it('is renewed before it runs out by our clock', async () => {
    let now = Date.UTC(2024, 0, 10, 12);
    const fakeClock = { now: () => now };
    await fake.stop();
    fake = await FakeMarketo.start({ clients: { [FakeMarketo.CLIENT_ID]: SECRET }, now: fakeClock.now });
    const client = makeClient({}, { now: fakeClock.now });
    await client.deliver(lead('c1'));
    now += 3_599_000 - 30_000; // 30 s left: inside the 60 s renewal margin
    fake.expireTokens();      // Marketo would answer 602 for the old one by now
    await client.deliver(lead('c2'));
    expect(fake.identityCalls).toHaveLength(2);
    // The proactive renewal avoided the 602 round trip.
    expect(fake.callsTo('/rest/v1/leads.json').every((c) => (c.response as { success: boolean }).success)).toBe(true);
  });

  it('concurrent calls share one token request, also when renewing after 602', async () => {
    const client = makeClient();
    const first = await Promise.all(Array.from({ length: 10 }, (_, i) => client.deliver(lead(`cc${i}`))));
    expect(first.every((d) => d.remoteId)).toBe(true);
    expect(fake.identityCalls).toHaveLength(1);

    fake.expireTokens();
    const second = await Promise.all(Array.from({ length: 10 }, (_, i) => client.deliver(lead(`cd${i}`))));
    expect(second.every((d) => d.remoteId)).toBe(true);
    expect(fake.identityCalls).toHaveLength(2);
    expect(client.tokenRequests).toBe(2);
  });

  it('601 again after renewing is a configuration (authentication) failure', async () => {
    fake.failNext(2, { code: '601' });
    const err = await failure(makeClient().deliver(lead('x')));
    expect(err).toBeInstanceOf(InvalidAuthenticationError);
    expect(err.destinationCode).toBe('601');
    expect(err.remediation).toMatch(/identityUrl and restUrl/);
    expect(fake.restCalls).toHaveLength(2);
  });

  it('602 again with the same (still valid per Identity) token is transient, not configuration', async () => {
    fake.failNext(2, { code: '602' });
    const err = await failure(makeClient().deliver(lead('x')));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.destinationCode).toBe('602');
  });

  it('Identity 401 (bad secret) is an authentication failure naming clientId/clientSecret; nothing reaches REST', async () => {
    fake.removeClient(FakeMarketo.CLIENT_ID);
    fake.addClient(FakeMarketo.CLIENT_ID, 'another-secret');
    const err = await failure(makeClient().deliver(lead('x')));
    expect(err).toBeInstanceOf(InvalidAuthenticationError);
    expect(err.status).toBe(401);
    expect(err.message).toContain('Bad credentials');
    expect(err.remediation).toContain('check clientId/clientSecret of the LeadRelay custom service');
    expect(err.remediation).toContain('leadrelay resume mkto');
    expect(fake.restCalls).toHaveLength(0);
  });

  it('Identity 401 for an unknown client id is an authentication failure too', async () => {
    const err = await failure(makeClient({ clientId: 'nobody' }).deliver(lead('x')));
    expect(err).toBeInstanceOf(InvalidAuthenticationError);
    expect(err.message).toContain('No client with requested id');
  });

  it('Identity 5xx and network failures are transient', async () => {
    fake.failNext(1, { httpStatus: 503, body: 'Service Unavailable' }, 'identity');
    expect(await failure(makeClient().deliver(lead('x')))).toBeInstanceOf(RetryableError);
    fake.failNext(1, { drop: true }, 'identity');
    expect(await failure(makeClient().deliver(lead('y')))).toBeInstanceOf(RetryableError);
  });

  it('uses identityUrl when given instead of restUrl + /identity', async () => {
    const err = await failure(makeClient({ identityUrl: `${fake.url}/elsewhere` }).deliver(lead('x')));
    expect(err).toBeInstanceOf(InvalidConfigurationError);
    expect(err.status).toBe(404);
    expect(fake.calls[0]!.path).toBe('/elsewhere/oauth/token');
  });
});

describe('success:false and HTTP failures', () => {
  const cases: [string, new (...args: never[]) => DeliveryError, number?][] = [
    ['606', ThrottledError, 20_000],
    ['615', ThrottledError, 5_000],
    ['603', InvalidConfigurationError],
    ['502', RetryableError],
    ['604', RetryableError],
    ['608', RetryableError],
    ['611', RetryableError],
    ['614', RetryableError],
    ['713', RetryableError],
    ['609', PayloadValidationError],
    ['610', PayloadValidationError],
    ['612', PayloadValidationError],
    ['799', RetryableError],
  ];

  it.each(cases)('response code %s → %o', async (code, cls, retryAfterMs) => {
    fake.failNext(1, { code });
    const err = await failure(makeClient().deliverBatch([lead('a'), lead('b')]));
    expect(err).toBeInstanceOf(cls);
    expect(err.destinationCode).toBe(code);
    expect(err.message).toContain(code);
    expect(err.remediation.length).toBeGreaterThan(20);
    if (retryAfterMs !== undefined) expect((err as ThrottledError).retryAfterMs).toBe(retryAfterMs);
    expect(fake.uniqueLeadCount).toBe(0);
  });

  it('603 is configuration, not authentication, and names permissions and the IP allowlist', async () => {
    fake.denyAccess();
    const err = await failure(makeClient().deliver(lead('a')));
    expect(err).toBeInstanceOf(InvalidConfigurationError);
    expect(err).not.toBeInstanceOf(InvalidAuthenticationError);
    expect(err.remediation).toMatch(/Read-Write Lead/);
    expect(err.remediation).toMatch(/Allowlist/i);
  });

  it('607 waits until the next midnight US Central time (injected clock, summer and winter)', async () => {
    const summer = Date.parse('2024-07-15T15:30:00-05:00');
    fake.failNext(1, { code: '607' });
    const a = await failure(makeClient({}, { now: () => summer }).deliver(lead('a')));
    expect(a).toBeInstanceOf(ThrottledError);
    expect((a as ThrottledError).retryAfterMs).toBe(Date.parse('2024-07-16T05:00:00Z') - summer);

    const winter = Date.parse('2024-01-15T23:59:00-06:00');
    fake.failNext(1, { code: '607' });
    const b = await failure(makeClient({}, { now: () => winter }).deliver(lead('b')));
    expect((b as ThrottledError).retryAfterMs).toBe(60_000);
  });

  it('the real rolling limit (606) from the fake throttles for the 20 s window', async () => {
    fake.setLimits({ callsPerWindow: 3, windowMs: 20_000 }); // describe (read once) + two deliveries
    const client = makeClient();
    await client.deliver(lead('a'));
    await client.deliver(lead('b'));
    const err = await failure(client.deliver(lead('c')));
    expect(err).toBeInstanceOf(ThrottledError);
    expect(err.message).toContain("Max rate limit '3' exceeded");
  });

  it('push to an unknown program (1013) pauses the destination', async () => {
    await fake.stop();
    fake = await FakeMarketo.start({ clients: { [FakeMarketo.CLIENT_ID]: SECRET }, programs: ['Known'] });
    const err = await failure(makeClient({ operation: 'push', programName: 'Typo' }).deliver(lead('a')));
    expect(err).toBeInstanceOf(InvalidConfigurationError);
    expect(err.remediation).toContain("programName 'Typo'");
  });

  it.each([
    [413, PayloadValidationError],
    [414, PayloadValidationError],
    [404, InvalidConfigurationError],
    [500, RetryableError],
    [502, RetryableError],
    [503, RetryableError],
  ] as const)('HTTP %d → %o', async (status, cls) => {
    fake.failNext(1, { httpStatus: status, body: '<html><body>nope</body></html>' });
    const err = await failure(makeClient().deliver(lead('a')));
    expect(err).toBeInstanceOf(cls);
    expect(err.status).toBe(status);
  });

  it('a real 413 from an oversized body dead-letters the batch with a batchSize remediation', async () => {
    const big = 'x'.repeat(4000);
    // address is a text area (no 255 limit to truncate to): 300 × 4 KB is over 1 MB.
    const err = await failure(makeClient({ fields: { address: big } }).deliverBatch(Array.from({ length: 300 }, (_, i) => lead(`big${i}`))));
    expect(err).toBeInstanceOf(PayloadValidationError);
    expect(err.remediation).toContain('batchSize');
  });

  it('a dropped connection and a non-Marketo 200 body are transient', async () => {
    fake.failNext(1, { drop: true });
    expect(await failure(makeClient().deliver(lead('a')))).toBeInstanceOf(RetryableError);
    fake.failNext(1, { httpStatus: 200, body: '<html>maintenance</html>' });
    expect(await failure(makeClient().deliver(lead('b')))).toBeInstanceOf(RetryableError);
  });

  it('a reply slower than the timeout is transient', async () => {
    fake.failNext(1, { delayMs: 500 });
    const err = await failure(makeClient({}, { timeoutMs: 100 }).deliver(lead('a')));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.message).toContain('timed out');
  });

  it('success with a result count that does not match is transient (nothing is assumed delivered)', async () => {
    const client = makeClient();
    await client.check(); // describe read: the fault hits the write
    fake.failNext(1, { httpStatus: 200, body: { requestId: 'x#1', success: true, result: [{ id: 1, status: 'created' }] } });
    expect(await failure(client.deliverBatch([lead('a'), lead('b')]))).toBeInstanceOf(RetryableError);
  });
});

describe('check()', () => {
  it('gets a token and reads leads/describe.json without creating a lead', async () => {
    const result = await makeClient().check();
    expect(result.ok).toBe(true);
    expect(result.message).toMatch(/described \d+ lead fields/);
    expect(fake.callsTo('/rest/v1/leads/describe.json')).toHaveLength(1);
    expect(fake.uniqueLeadCount).toBe(0);
  });

  it('603 → not ok, with the permissions / allowlist remediation', async () => {
    fake.denyAccess();
    const result = await makeClient().check();
    expect(result.ok).toBe(false);
    expect(result.message).toContain('603');
    expect(result.remediation).toMatch(/Allowlist/i);
  });

  it('bad credentials → not ok, naming clientId/clientSecret', async () => {
    const result = await makeClient({ clientSecret: 'wrong-secret-123' }).check();
    expect(result.ok).toBe(false);
    expect(result.remediation).toContain('clientId/clientSecret');
  });

  it('fields: and lookupField that Marketo does not have → not ok', async () => {
    const result = await makeClient({ lookupField: 'externalId__c', fields: { marketplaceOffer__c: '{{offer}}' } }).check();
    expect(result.ok).toBe(false);
    expect(result.message).toContain('externalId__c');
    expect(result.message).toContain('marketplaceOffer__c');
  });
});

describe('secrets', () => {
  it('neither the client secret nor the access token appears in any error, remediation or check result', async () => {
    const seen: unknown[] = [];
    const collect = async (p: Promise<unknown>) => {
      try {
        seen.push(await p);
      } catch (e) {
        seen.push(e);
      }
    };
    const good = makeClient();
    await good.deliver(lead('warm'));
    const token = (fake.identityCalls[0]!.response as { access_token: string }).access_token;

    fake.failNext(1, { httpStatus: 401, body: { error: 'unauthorized', error_description: `Bad credentials for ${SECRET}` } }, 'identity');
    await collect(makeClient().deliver(lead('a')));
    fake.failNext(1, { httpStatus: 500, body: `boom ${SECRET}` }, 'identity');
    await collect(makeClient().deliver(lead('b')));
    fake.failNext(1, { drop: true }, 'identity');
    await collect(makeClient().deliver(lead('c')));
    fake.failNext(1, { delayMs: 300 }, 'identity');
    await collect(makeClient({}, { timeoutMs: 50 }).deliver(lead('d')));
    await collect(makeClient({ clientSecret: `${SECRET}-wrong` }).deliver(lead('e')));
    await collect(makeClient({ clientSecret: `${SECRET}-wrong` }).check());
    fake.failNext(2, { code: '601' });
    await collect(good.deliver(lead('f')));
    fake.failNext(1, { drop: true });
    await collect(good.deliver(lead('g')));
    fake.denyAccess();
    await collect(good.deliver(lead('h')));
    await collect(good.check());
    const unreachable = new MarketoClient({ ...marketoSettings.parse({ restUrl: 'http://127.0.0.1:1', clientId: 'c', clientSecret: SECRET }),
      id: 'mkto', type: 'marketo', enabled: true, allowInsecure: false }, ctx);
    clients.push(unreachable);
    await collect(unreachable.deliver(lead('i')));

    expect(seen.filter((e) => e instanceof DeliveryError)).toHaveLength(9);
    for (const e of seen) {
      const views = [inspect(e, { depth: 10 }), JSON.stringify(e)];
      if (e instanceof DeliveryError) views.push(e.message, e.remediation, String(e.stack), inspect(e.cause, { depth: 10 }));
      for (const v of views) {
        expect(v).not.toContain(SECRET);
        expect(v).not.toContain(encodeURIComponent(SECRET));
        expect(v).not.toContain(token);
      }
    }
  });
});

describe('real-org setups (issue 9)', () => {
  async function restart(options: Parameters<typeof FakeMarketo.start>[0]): Promise<void> {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await fake.stop();
    fake = await FakeMarketo.start({ clients: { [FakeMarketo.CLIENT_ID]: SECRET }, ...options });
  }

  it('form: only fields on the form are sent (read through the Asset API, SOAP names mapped by describe); the rest is a warning', async () => {
    // A form made in Design Studio with First Name, Last Name, Email and Address (SOAP name Street).
    await restart({ forms: { 1179: ['firstName', 'lastName', 'email', 'address', 'Profiling'] } });
    const client = makeClient({ operation: 'form', formId: 1179, fields: { address: '{{extra.street}}' } });
    const delivered = await client.deliver(lead('f1', {}, { extra: { street: '1 Main St' } }));
    expect(fake.callsTo('/rest/asset/v1/form/1179/fields.json')).toHaveLength(1);
    const [call] = fake.callsTo('/rest/v1/leads/submitForm.json');
    expect((call!.body as { input: { leadFormFields: object }[] }).input[0]!.leadFormFields).toEqual({
      firstName: 'Ada', lastName: 'Lovelace', email: 'f1@contoso.example', address: '1 Main St',
    });
    expect(fake.leadByEmail('f1@contoso.example')).toBeDefined();
    expect(delivered.warnings).toEqual([
      'Marketo form 1179 has no field phone, country, company, title, leadSource: not sent (add it to the form to keep it)',
    ]);
    // The form's fields are read once per client, not per lead.
    await client.deliver(lead('f2'));
    expect(fake.callsTo('/rest/asset/v1/form/1179/fields.json')).toHaveLength(1);
  });

  it('form with formFields: all (the 1006 skip is undocumented): the form is not read, every mapped field is sent', async () => {
    await restart({ forms: { 1179: ['firstName', 'lastName', 'email'] } });
    const client = makeClient({ operation: 'form', formId: 1179, formFields: 'all' });
    const err = await failure(client.deliver(lead('all1')));
    expect(fake.callsTo('/rest/asset/v1/form/1179/fields.json')).toHaveLength(0);
    const [call] = fake.callsTo('/rest/v1/leads/submitForm.json');
    expect(Object.keys((call!.body as { input: { leadFormFields: object }[] }).input[0]!.leadFormFields)).toEqual(expect.arrayContaining(['phone', 'company', 'leadSource']));
    // This fake skips a field not on the form with 1006, as Marketo is believed to: a permanent failure naming the form.
    expect(err.destinationCode).toBe('1006');
    expect(err.remediation).toMatch(/not on Marketo form 1179/);
    const checked = await client.check();
    expect(checked).toMatchObject({ ok: true, message: expect.stringContaining('every mapped field: formFields: all, the form was not read') });
    expect(fake.callsTo('/rest/asset/v1/form/1179/fields.json')).toHaveLength(0);
  });

  it('form: check names the lead fields the form will drop; a form without Email is not ok; an unknown form is not ok', async () => {
    await restart({ forms: { 1179: ['firstName', 'lastName', 'email'], 2000: ['firstName', 'lastName'] } });
    const ok = await makeClient({ operation: 'form', formId: 1179, fields: { industry: 'Software' } }).check();
    expect(ok.ok).toBe(true);
    expect(ok.warnings).toEqual([expect.stringContaining('Form 1179 has no field for phone, country, company, title, leadSource, industry')]);
    const noEmail = await makeClient({ operation: 'form', formId: 2000 }).check();
    expect(noEmail).toMatchObject({ ok: false, message: expect.stringContaining('no Email field'), remediation: expect.stringContaining('Add the Email field') });
    const unknown = await makeClient({ operation: 'form', formId: 31 }).check();
    expect(unknown).toMatchObject({ ok: false, remediation: expect.stringContaining('embed code') });
    expect(fake.uniqueLeadCount).toBe(0);
  });

  it('form without Email: delivery pauses the destination (configuration), nothing is submitted', async () => {
    await restart({ forms: { 2000: ['firstName', 'lastName'] } });
    const err = await failure(makeClient({ operation: 'form', formId: 2000 }).deliverBatch([lead('n1')]));
    expect(err).toBeInstanceOf(InvalidConfigurationError);
    expect(fake.callsTo('/rest/v1/leads/submitForm.json')).toHaveLength(0);
  });

  it('form: a non-ASCII email is a permanent failure with a remediation, never submitted', async () => {
    await restart({ forms: { 1179: ['firstName', 'lastName', 'email'] } });
    const err = await failure(makeClient({ operation: 'form', formId: 1179 }).deliver(lead('x', { email: 'jürgen@contoso.example' })));
    expect(err).toBeInstanceOf(PayloadValidationError);
    expect(err.message).toContain('ASCII');
    expect(err.remediation).toMatch(/dlq replay/);
    expect(fake.callsTo('/rest/v1/leads/submitForm.json')).toHaveLength(0);
  });

  it('values longer than describe\'s lengths are truncated with a warning; an over-long email is refused, not cut', async () => {
    await restart({ fieldLengths: { title: 20 } });
    const client = makeClient();
    const delivered = await client.deliver(lead('t1', { firstName: 'Я'.repeat(300), title: 'Chief Technology Officer' }));
    const stored = fake.leadByEmail('t1@contoso.example')!;
    expect(stored.fields.firstName).toBe('Я'.repeat(255));
    expect(stored.fields.title).toBe('Chief Technology Off');
    expect(delivered.warnings).toEqual([
      'Marketo lead field firstName holds 255 characters: the value (300 characters) was truncated',
      'Marketo lead field title holds 20 characters: the value (24 characters) was truncated',
    ]);
    const err = await failure(client.deliver(lead('t2', { email: `${'a'.repeat(290)}@contoso.example` })));
    expect(err).toBeInstanceOf(PayloadValidationError);
    expect(err.message).toContain('not truncated');
    expect(fake.uniqueLeadCount).toBe(1);
  });

  it('613 (Invalid Multipart Request) is permanent, not retried: the same request fails the same way', async () => {
    const client = makeClient();
    await client.deliver(lead('warm'));
    fake.failNext(1, { code: '613' });
    const err = await failure(client.deliverBatch([lead('m1')]));
    expect(err).toBeInstanceOf(PayloadValidationError);
    expect(err.destinationCode).toBe('613');
    expect(err.remediation).toMatch(/Content-Type/);
  });

  it('one batch never holds two records with one email: the second goes in a later call and updates the same person', async () => {
    const results = await makeClient().deliverBatch([lead('s1', { email: 'same@contoso.example' }), lead('s2'), lead('s3', { email: 'SAME@contoso.example', title: 'CEO' })]);
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    const calls = fake.callsTo('/rest/v1/leads.json').map((c) => (c.body as { input: { email: string }[] }).input.map((i) => i.email));
    expect(calls).toEqual([['same@contoso.example', 's2@contoso.example'], ['SAME@contoso.example']]);
    expect(fake.duplicates()).toEqual([]);
    expect(fake.findLeads('email', 'same@contoso.example')[0]!.fields.title).toBe('CEO');
  });

  it('two clients sharing key locks never have one email in flight twice: one person, not two', async () => {
    const locks = new MemoryKeyLocks();
    const shared: DestinationContext = { ...ctx, keyLocks: () => locks };
    const make = () => {
      const parsed = marketoSettings.parse({ restUrl: fake.url, clientId: FakeMarketo.CLIENT_ID, clientSecret: SECRET });
      const c = new MarketoClient({ ...parsed, id: 'mkto', type: 'marketo', enabled: true, allowInsecure: false }, shared);
      clients.push(c);
      return c;
    };
    const [a, b] = [make(), make()];
    await Promise.all([a.check(), b.check()]); // describe read, so both calls below are the writes
    fake.setLatency(100);
    const both = await Promise.all([a.deliver(lead('r1', { email: 'race@contoso.example' })), b.deliver(lead('r2', { email: 'race@contoso.example' }))]);
    expect(both[0]!.remoteId).toBe(both[1]!.remoteId);
    expect(fake.duplicates()).toEqual([]);
    expect(fake.stats.maxInFlight).toBe(1);
  });

  it('without the locks, the fake shows what a real instance does: two persons for one email', async () => {
    const make = () => makeClient();
    const [a, b] = [make(), make()];
    await Promise.all([a.check(), b.check()]);
    const release = fake.hold();
    const both = Promise.all([
      (a as unknown as { sendRecords(r: object[]): Promise<unknown> }).sendRecords([{ email: 'race@contoso.example' }]),
      (b as unknown as { sendRecords(r: object[]): Promise<unknown> }).sendRecords([{ email: 'race@contoso.example' }]),
    ]);
    await fake.waitForInFlight(2);
    release();
    await both;
    expect(fake.duplicates()).toHaveLength(1);
  });
});
