import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DeliveryError, InvalidAuthenticationError, InvalidConfigurationError, PayloadValidationError, RetryableError, ThrottledError,
  type FieldValue, type Lead,
} from '@leadrelay/core';
import { silentLogger } from '@leadrelay/observability';
import { WebhookReceiver } from '../../../../test/fakes/webhook-receiver/index.js';
import { freePort } from '../../../../test/helpers/free-port.js';
import type { DestinationContext } from '../destination.js';
import { MemoryRollingQuota } from '../shared/index.js';
import { HttpsClient } from './https-client.js';
import { webhookIdOf } from './https-mapping.js';
import { https } from './index.js';
import { httpsSettings } from './settings.js';
import { deliveryFailure } from '../../../../test/helpers/delivery-failure.js';

const ctx: DestinationContext = {
  logger: silentLogger,
  placeholder: '[not provided]',
  rollingQuota: (_name, limit, windowMs) => new MemoryRollingQuota(limit, windowMs),
};

const lead: Lead = {
  id: 'lead-0001',
  source: 'AzureMarketplace',
  action: 'INS',
  offer: 'contoso.widget-pro',
  offerTitle: 'Contoso Widget Pro',
  customer: { firstName: 'Some', lastName: 'One', email: 'someone@contoso.com', phone: '16175555555', country: 'USA', company: 'Contoso', title: 'Esquire' },
  description: 'Interested in the enterprise plan',
  createdAt: '2026-03-01T10:20:30.000Z',
  extra: { campaign: 'spring', seats: 25 },
  testLead: false,
};

// Distinctive values that must never show up in an error.
const SIGNING_SECRET = 'whsec_' + Buffer.from('super-secret-signing-key-0123456789').toString('base64');
const HEADER_SECRET = 'sk_live_HEADERSECRET_8f3a9c';
const URL_SECRET = 'URLSECRET_c0d3_k3y_77';

let receiver: WebhookReceiver;
const clients: HttpsClient[] = [];

beforeAll(async () => { receiver = await WebhookReceiver.start(); });
afterAll(async () => { await receiver.stop(); });
beforeEach(() => { receiver.clear(); receiver.setDefaultReply({ status: 200 }); });
afterEach(async () => { await Promise.all(clients.splice(0).map((c) => c.close())); });

function client(input: Record<string, unknown> = {}, common: { id?: string; fields?: Record<string, FieldValue> } = {}): HttpsClient {
  const settings = httpsSettings.parse({ url: receiver.url('/hook'), ...input });
  const c = new HttpsClient({ ...settings, id: common.id ?? 'webhook', type: 'https', enabled: true, allowInsecure: false, fields: common.fields }, ctx);
  clients.push(c);
  return c;
}

const failure = deliveryFailure;

describe('https destination: the request', () => {
  it('sends Microsoft\'s HTTPS-endpoint JSON by default, with our headers and the configured ones', async () => {
    await client({ headers: { 'X-Api-Key': 'abc123', Authorization: 'Bearer t0k' } }).deliver(lead);
    expect(receiver.requests).toHaveLength(1);
    const req = receiver.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/hook');
    expect(req.json).toEqual({
      UserDetails: { FirstName: 'Some', LastName: 'One', Email: 'someone@contoso.com', Phone: '16175555555', Country: 'USA', Company: 'Contoso', Title: 'Esquire' },
      LeadSource: 'AzureMarketplace',
      ActionCode: 'INS',
      OfferTitle: 'Contoso Widget Pro',
      Description: 'Interested in the enterprise plan',
    });
    expect(req.rawBody).toBe(JSON.stringify(req.json));
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toMatch(/^LeadRelay\/\d+\.\d+\.\d+/);
    expect(req.headers['x-api-key']).toBe('abc123');
    expect(req.headers.authorization).toBe('Bearer t0k');
    expect(req.headers['webhook-id']).toBe(webhookIdOf('webhook', 'lead-0001'));
    expect(req.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(Number(req.headers['webhook-timestamp'])).toBeGreaterThan(1_700_000_000);
    expect(req.headers['webhook-signature']).toBeUndefined();
  });

  it('sends credentials in the URL as Basic authentication, and a configured Authorization header instead of them', async () => {
    const withCredentials = receiver.url('/hook').replace('://', '://hook%20user:p%40ss@');
    await client({ url: withCredentials }).deliver(lead);
    await client({ url: withCredentials, headers: { Authorization: 'Bearer t0k' } }).deliver(lead);
    expect(receiver.requests.map((r) => r.headers.authorization)).toEqual([`Basic ${Buffer.from('hook user:p@ss').toString('base64')}`, 'Bearer t0k']);
    expect(receiver.requests[0]!.path).toBe('/hook');
  });

  it('sends absent customer values as empty strings in marketplace format', async () => {
    const sparse: Lead = { ...lead, id: 'lead-sparse', customer: { email: 'a@b.edu' }, offerTitle: undefined, description: undefined };
    await client().deliver(sparse);
    expect(receiver.requests[0]!.json).toEqual({
      UserDetails: { FirstName: '', LastName: '', Email: 'a@b.edu', Phone: '', Country: '', Company: '', Title: '' },
      LeadSource: 'AzureMarketplace', ActionCode: 'INS', OfferTitle: '', Description: '',
    });
  });

  it('sends the canonical lead with rendered fields merged at the top level', async () => {
    await client({ format: 'canonical' }, { fields: { source: '{{leadSource}}', crmCampaign: 'mkt-{{extra.campaign}}', priority: 3, hot: true } }).deliver(lead);
    expect(receiver.requests[0]!.json).toEqual({
      id: 'lead-0001',
      source: 'AzureMarketplace-INS|contoso.widget-pro',
      action: 'INS',
      offer: 'contoso.widget-pro',
      offerTitle: 'Contoso Widget Pro',
      customer: lead.customer,
      description: 'Interested in the enterprise plan',
      createdAt: '2026-03-01T10:20:30.000Z',
      extra: { campaign: 'spring', seats: 25 },
      testLead: false,
      crmCampaign: 'mkt-spring',
      priority: 3,
      hot: true,
    });
  });

  it('signs with Standard Webhooks so the receiver can verify with the secret', async () => {
    await client({ signingSecret: SIGNING_SECRET }).deliver(lead);
    const req = receiver.requests[0]!;
    expect(req.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    expect(receiver.verify(req, SIGNING_SECRET)).toEqual(req.json);
    expect(() => receiver.verify(req, 'whsec_' + Buffer.from('another-secret-entirely').toString('base64'))).toThrow(/signature/i);
    expect(() => receiver.verify({ ...req, rawBody: req.rawBody.replace('Some', 'Eve') }, SIGNING_SECRET)).toThrow(/signature/i);
  });

  it('signs with every secret in signingSecrets during a rotation: space-separated v1 signatures, either secret verifies', async () => {
    const NEW = 'whsec_' + Buffer.from('the-new-signing-key-after-rotation!').toString('base64');
    await client({ signingSecrets: [NEW, SIGNING_SECRET] }).deliver(lead);
    const req = receiver.requests[0]!;
    const parts = String(req.headers['webhook-signature']).split(' ');
    expect(parts).toHaveLength(2);
    for (const p of parts) expect(p).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    expect(receiver.verify(req, NEW)).toEqual(req.json);
    expect(receiver.verify(req, SIGNING_SECRET)).toEqual(req.json);
    expect(() => receiver.verify(req, 'whsec_' + Buffer.from('a third, unrelated secret').toString('base64'))).toThrow(/signature/i);
  });

  it('a whsec_ secret with bad base64 is refused by the settings (the signer would throw on every delivery)', () => {
    for (const bad of ['whsec_abc', 'whsec_YWJj=', 'whsec_YW=J', 'whsec_']) {
      expect(httpsSettings.safeParse({ url: 'https://x.example/', signingSecret: bad }).success, bad).toBe(false);
      expect(httpsSettings.safeParse({ url: 'https://x.example/', signingSecrets: [SIGNING_SECRET, bad] }).success, bad).toBe(false);
    }
    expect(httpsSettings.safeParse({ url: 'https://x.example/', signingSecret: SIGNING_SECRET }).success).toBe(true);
  });

  it('keeps webhook-id stable across retries of one lead and distinct per destination and per lead', async () => {
    const c = client({ signingSecret: SIGNING_SECRET });
    receiver.failNext(1, 503);
    expect(await failure(c.deliver(lead))).toBeInstanceOf(RetryableError);
    await c.deliver(lead);
    const [first, second] = receiver.requests;
    expect(first!.webhookId).toBe(second!.webhookId);
    expect(receiver.verify(first!, SIGNING_SECRET)).toEqual(receiver.verify(second!, SIGNING_SECRET));
    expect(receiver.acceptedCount(first!.webhookId!)).toBe(1);

    await client({}, { id: 'other-hook' }).deliver(lead);
    await c.deliver({ ...lead, id: 'lead-0002' });
    const ids = new Set(receiver.requests.map((r) => r.webhookId));
    expect(ids.size).toBe(3);
  });

  it('accepts any 2xx', async () => {
    receiver.failNext(1, 202, { body: '' }).failNext(1, 204);
    await client().deliver(lead);
    await client().deliver(lead);
    expect(receiver.requests.map((r) => r.outcome)).toEqual([202, 204]);
  });
});

describe('https destination: outcomes', () => {
  it.each([500, 502, 503, 504, 408])('HTTP %i is transient', async (status) => {
    receiver.failNext(1, status);
    const err = await failure(client().deliver(lead));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.kind).toBe('transient');
    expect(err.status).toBe(status);
    expect(err.message).toContain(`HTTP ${status}`);
  });

  it('429 with Retry-After seconds throttles for that long', async () => {
    receiver.failNext(1, 429, { headers: { 'Retry-After': '120' } });
    const err = await failure(client().deliver(lead));
    expect(err).toBeInstanceOf(ThrottledError);
    expect((err as ThrottledError).retryAfterMs).toBe(120_000);
  });

  it('429 with Retry-After as an HTTP date throttles until then', async () => {
    receiver.failNext(1, 429, { headers: { 'Retry-After': new Date(Date.now() + 90_000).toUTCString() } });
    const err = await failure(client().deliver(lead));
    expect(err).toBeInstanceOf(ThrottledError);
    expect((err as ThrottledError).retryAfterMs).toBeGreaterThan(60_000);
    expect((err as ThrottledError).retryAfterMs).toBeLessThanOrEqual(90_000);
  });

  it('429 without Retry-After still throttles; 503 with Retry-After throttles, without it is transient', async () => {
    receiver.failNext(1, 429).failNext(1, 503, { headers: { 'Retry-After': '7' } }).failNext(1, 503);
    const a = await failure(client().deliver(lead));
    const b = await failure(client().deliver(lead));
    const c = await failure(client().deliver(lead));
    expect(a).toBeInstanceOf(ThrottledError);
    expect((a as ThrottledError).retryAfterMs).toBeGreaterThan(0);
    expect(b).toBeInstanceOf(ThrottledError);
    expect((b as ThrottledError).retryAfterMs).toBe(7_000);
    expect(c).toBeInstanceOf(RetryableError);
  });

  it('a reply slower than the timeout is transient', async () => {
    receiver.delayNext(1, 5_000);
    const err = await failure(client({ timeout: '300ms' }).deliver(lead));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.destinationCode).toBe('ETIMEDOUT');
    expect(err.message).toContain('no answer within 300ms');
  });

  it('a reset socket is transient', async () => {
    receiver.resetNext(1);
    const err = await failure(client().deliver(lead));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.message).toMatch(/could not be reached/);
    expect(receiver.requests[0]!.outcome).toBe('reset');
  });

  it('a refused connection is transient', async () => {
    const port = await freePort();
    const settings = httpsSettings.parse({ url: `http://127.0.0.1:${port}/hook` });
    const c = new HttpsClient({ ...settings, id: 'down', type: 'https', enabled: true, allowInsecure: false }, ctx);
    clients.push(c);
    const err = await failure(c.deliver(lead));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.destinationCode).toBe('ECONNREFUSED');
  });

  it('400 is permanent and quotes the receiver\'s message', async () => {
    receiver.failNext(1, 400, { body: { error: 'validation', message: 'Email domain is blocked' } });
    const err = await failure(client().deliver(lead));
    expect(err).toBeInstanceOf(PayloadValidationError);
    expect(err.kind).toBe('permanent');
    expect(err.message).toContain('HTTP 400');
    expect(err.message).toContain('Email domain is blocked');
    expect(err.remediation).toMatch(/dlq replay/);
  });

  it('quotes only a short excerpt of a large error body', async () => {
    receiver.failNext(1, 422, { body: 'x'.repeat(100_000) });
    const err = await failure(client().deliver(lead));
    expect(err).toBeInstanceOf(PayloadValidationError);
    expect(err.message.length).toBeLessThan(500);
  });

  it('401 is an authentication failure and 403 a configuration failure', async () => {
    receiver.failNext(1, 401, { body: { error: 'unauthorized' } }).failNext(1, 403);
    const a = await failure(client().deliver(lead));
    const b = await failure(client().deliver(lead));
    expect(a).toBeInstanceOf(InvalidAuthenticationError);
    expect(a.kind).toBe('configuration');
    expect(a.remediation).toMatch(/headers|signingSecret/);
    expect(b).toBeInstanceOf(InvalidConfigurationError);
    expect(b).not.toBeInstanceOf(InvalidAuthenticationError);
  });

  it('does not follow a redirect: configuration failure naming the new address (without its query)', async () => {
    receiver.failNext(1, 308, { headers: { Location: 'https://elsewhere.example/new-hook?sig=abc' } });
    const err = await failure(client().deliver(lead));
    expect(err).toBeInstanceOf(InvalidConfigurationError);
    expect(err.remediation).toContain('Update url');
    expect(err.remediation).toContain('https://elsewhere.example/new-hook');
    expect(err.remediation).not.toContain('sig=abc');
    expect(receiver.requestCount).toBe(1);
  });

  it('410 Gone pauses the destination (Standard Webhooks: endpoint disabled)', async () => {
    receiver.failNext(1, 410);
    expect(await failure(client().deliver(lead))).toBeInstanceOf(InvalidConfigurationError);
  });
});

describe('https destination: secrets', () => {
  it('never puts the signing secret, header values or URL keys in errors', async () => {
    const echo = `${SIGNING_SECRET} ${HEADER_SECRET} ${URL_SECRET}`;
    receiver
      .failNext(1, 400, { body: { error: 'bad', echo } })
      .failNext(1, 401, { body: `rejected key ${HEADER_SECRET} for url /hook?code=${URL_SECRET}` })
      .failNext(1, 500, { body: echo })
      .failNext(1, 302, { headers: { Location: `/moved?code=${URL_SECRET}` } })
      .resetNext(1);
    const c = client({ url: receiver.url(`/hook?code=${URL_SECRET}`), signingSecret: SIGNING_SECRET, headers: { 'X-Api-Key': HEADER_SECRET } });
    const errors: DeliveryError[] = [];
    for (let i = 0; i < 5; i++) errors.push(await failure(c.deliver(lead)));
    receiver.failNext(1, 401, { body: echo });
    const checked = await c.check();
    expect(checked.ok).toBe(false);
    const text = JSON.stringify([...errors.map((e) => ({ m: e.message, r: e.remediation, j: e.toJSON() })), checked]);
    for (const secret of [SIGNING_SECRET, SIGNING_SECRET.slice(6), HEADER_SECRET, URL_SECRET]) expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
    // The secrets did reach the receiver where they belong.
    expect(receiver.requests[0]!.headers['x-api-key']).toBe(HEADER_SECRET);
    expect(receiver.requests[0]!.query.code).toBe(URL_SECRET);
  });
});

describe('https destination: check()', () => {
  it('proves reachability with OPTIONS, without posting a lead', async () => {
    const result = await client({ headers: { 'X-Api-Key': 'abc123' } }).check();
    expect(result.ok).toBe(true);
    const req = receiver.requests[0]!;
    expect(req.method).toBe('OPTIONS');
    expect(req.rawBody).toBe('');
    expect(req.webhookId).toBeUndefined();
    expect(req.headers['x-api-key']).toBe('abc123');
    expect(receiver.acceptedIds()).toEqual([]);
  });

  it('fails 404/405/410 with the full path and how to prove a POST-only receiver', async () => {
    receiver.failNext(1, 405).failNext(1, 404).failNext(1, 410);
    for (const status of [405, 404, 410]) {
      const r = await client().check();
      expect(r.ok).toBe(false);
      expect(r.message).toContain(`HTTP ${status}`);
    }
    receiver.failNext(1, 404);
    const r = await client().check();
    expect(r.message).toContain(`${receiver.url('/hook')} answered HTTP 404`);
    expect(r.remediation).toMatch(/test-lead/);
  });

  it('reports 401/403, 5xx, redirects and unreachable hosts as failures with a remediation', async () => {
    receiver.failNext(1, 401).failNext(1, 403).failNext(1, 500).failNext(1, 301, { headers: { Location: 'https://x.example/' } });
    for (let i = 0; i < 4; i++) {
      const r = await client().check();
      expect(r.ok).toBe(false);
      expect(r.remediation).toBeTruthy();
    }
    const port = await freePort();
    const settings = httpsSettings.parse({ url: `http://127.0.0.1:${port}/hook` });
    const c = new HttpsClient({ ...settings, id: 'down', type: 'https', enabled: true, allowInsecure: false }, ctx);
    clients.push(c);
    const r = await c.check();
    expect(r.ok).toBe(false);
    expect(r.remediation).toMatch(/reachable/);
  });
});

describe('https destination: config rules', () => {
  it('rejects headers LeadRelay sets itself and invalid header names', () => {
    const problems: string[] = [];
    https.refine!(httpsSettings.parse({ url: 'https://x.example/', headers: { 'Webhook-Signature': 'x', 'Bad Name': 'y', 'X-Ok': 'z' } }),
      (path, message) => problems.push(`${path.join('.')}: ${message}`));
    expect(problems).toHaveLength(2);
    expect(problems.join('\n')).toMatch(/Webhook-Signature: is set by LeadRelay/);
    expect(problems.join('\n')).toMatch(/Bad Name: is not a valid HTTP header name/);
  });
});
