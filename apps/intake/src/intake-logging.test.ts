import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createLogger, LeadRelayMetrics } from '@leadrelay/observability';
import { canonical, intakeConfig, KEY_ONE, KEY_TWO, LogCapture, microsoftJson, msftTestForm, postLead } from '../test/intake-fixture.js';
import { buildIntakeServer } from './index.js';
import { redactUrl } from './intake-log-controller.js';

const WRONG_KEY = 'not-configured-key-5d1e9a77c3';
const config = intakeConfig(inject('redisUrl'));
let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** A server logging into a capture, with NO secret redactor: the URL serializer alone must keep keys out. */
async function serverWithLog(level: string): Promise<{ app: FastifyInstance; log: LogCapture }> {
  const log = new LogCapture();
  app = buildIntakeServer({ config, logger: createLogger({ level, destination: log }), metrics: new LeadRelayMetrics({ defaultMetrics: false }) });
  await app.ready();
  return { app, log };
}

describe('request logging', () => {
  it('never logs an API key sent in ?code=, configured or not, on any route or outcome', async () => {
    const { app, log } = await serverWithLog('info');
    const enc = encodeURIComponent;
    const responses = [
      await postLead(app, canonical({ description: 'log 1' }), { key: null, url: `/v1/leads?code=${enc(KEY_ONE)}&offer=contoso.widget` }),
      await postLead(app, canonical({ description: 'log 1' }), { key: null, url: `/v1/leads?offer=contoso.widget&code=${enc(KEY_TWO)}` }),
      await postLead(app, canonical(), { key: null, url: `/v1/leads?code=${WRONG_KEY}` }),
      await postLead(app, {}, { key: null, url: `/v1/leads?code=${KEY_ONE}` }),
      await postLead(app, '{', { key: null, url: `/v1/leads?code=${KEY_ONE}`, headers: { 'content-type': 'application/json' } }),
      await postLead(app, 'x', { key: null, url: `/v1/leads?code=${KEY_ONE}`, headers: { 'content-type': 'text/plain' } }),
      await postLead(app, 'x'.repeat(5000), { key: null, url: `/v1/leads?code=${KEY_ONE}`, headers: { 'content-type': 'application/json' } }),
      await app.inject({ method: 'GET', url: `/v1/leads/unknown?code=${KEY_ONE}` }),
      await app.inject({ method: 'GET', url: `/nowhere?code=${KEY_ONE}` }),
      await app.inject({ method: 'PATCH', url: `/v1/leads?code=${KEY_ONE}` }),
      await app.inject({ method: 'GET', url: `/v1/leads/${'a'.repeat(300)}?code=${KEY_ONE}` }),
      // A key percent-encoded in the parameter name, or sent as a bare parameter by mistake.
      await postLead(app, canonical(), { key: null, url: `/v1/leads?%63ode=${KEY_TWO}` }),
      await postLead(app, canonical(), { key: null, url: `/v1/leads?${WRONG_KEY}` }),
      // Headers are never logged either.
      await postLead(app, canonical(), { key: null, headers: { 'x-api-key': KEY_TWO } }),
      await postLead(app, canonical(), { key: WRONG_KEY }),
    ];
    expect(responses.map((r) => r.statusCode)).toEqual([202, 200, 401, 400, 400, 415, 413, 404, 404, 405, 400, 202, 401, 200, 401]);
    expect(log.lines.length).toBeGreaterThan(0);
    for (const secret of [KEY_ONE, KEY_TWO, WRONG_KEY, encodeURIComponent(KEY_ONE)]) expect(log.text).not.toContain(secret);
    const urls = log.records.map((r) => r.url);
    expect(urls).toContain('/v1/leads?code=[redacted]&offer=contoso.widget');
    expect(urls).toContain('/v1/leads?offer=contoso.widget&code=[redacted]');
  });

  it('writes exactly one line per request at info, without customer data', async () => {
    const { app, log } = await serverWithLog('info');
    const lead = microsoftJson({ userDetails: { firstName: 'Grace', lastName: 'Hopper', email: 'grace.hopper@navy.example', phone: '+1 555 0100' }, description: 'secret plans' });
    const accepted = await postLead(app, lead, { url: '/v1/leads?offer=contoso.widget' });
    await postLead(app, msftTestForm('636573304831355555'));
    await postLead(app, { customer: { email: 'invalid.person@example.com' } });
    await app.inject({ method: 'GET', url: `/v1/leads/${accepted.json().id}`, headers: { authorization: `Bearer ${KEY_ONE}` } });
    expect(log.records.map((r) => [r.msg, r.status])).toEqual([
      ['request completed', 202], ['request completed', 202], ['request completed', 400], ['request completed', 200],
    ]);
    const [first, , invalid] = log.records;
    expect(first).toMatchObject({ level: 30, method: 'POST', url: '/v1/leads?offer=contoso.widget', leadId: accepted.json().id, format: 'marketplace', duplicate: false, destinations: 3 });
    expect(typeof first!.reqId).toBe('string');
    expect(typeof first!.ms).toBe('number');
    expect(invalid).toMatchObject({ reason: 'invalid', format: 'canonical', invalid: expect.arrayContaining(['source', 'action', 'offer']) });
    for (const pii of ['Grace', 'Hopper', 'grace.hopper', '555 0100', 'secret plans', 'invalid.person', 'MSFT_TEST_636573304831355555@test.com']) {
      expect(log.text).not.toContain(pii);
    }
  });

  it('logs lead contents only at debug', async () => {
    const { app, log } = await serverWithLog('debug');
    await postLead(app, canonical({ customer: { email: 'debug.only@example.com' } }));
    const parsed = log.records.find((r) => r.msg === 'lead parsed');
    expect(parsed).toMatchObject({ level: 20, format: 'canonical', lead: { customer: { email: 'debug.only@example.com' } } });
  });

  it('logs successful probes and scrapes at debug, failures at info', async () => {
    const { app, log } = await serverWithLog('info');
    await app.inject({ method: 'GET', url: '/healthz' });
    await app.inject({ method: 'GET', url: '/metrics' });
    await app.inject({ method: 'GET', url: '/readyz' });
    expect(log.lines).toEqual([]);
    await app.inject({ method: 'POST', url: '/healthz' });
    expect(log.records.map((r) => r.status)).toEqual([405]);
  });
});

describe('redactUrl', () => {
  it('keeps the path and the offer, hides every other query value and unknown parameter names', () => {
    expect(redactUrl('/v1/leads')).toBe('/v1/leads');
    expect(redactUrl('/v1/leads?code=abc&offer=contoso.x')).toBe('/v1/leads?code=[redacted]&offer=contoso.x');
    expect(redactUrl('/v1/leads?CODE=abc')).toBe('/v1/leads?code=[redacted]');
    expect(redactUrl('/v1/leads?%63ode=abc')).toBe('/v1/leads?code=[redacted]');
    expect(redactUrl('/v1/leads?secretvalue&x=y')).toBe('/v1/leads?[redacted]&[redacted]');
    expect(redactUrl('/v1/leads?%E0%A4%A=1')).toBe('/v1/leads?[redacted]');
  });
});
