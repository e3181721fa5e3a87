import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Registry } from 'prom-client';
import { parseJsonLead, type Lead } from '@leadrelay/core';
import { silentLogger } from '@leadrelay/observability';
import { Relay } from '@leadrelay/queue';
import { SourceService, createPullSource, type SourceHealth } from '@leadrelay/sources';
import { runPoll } from '../../../test/helpers/source-polls.js';
import { uniquePrefix } from '../../../test/helpers/unique.js';
import { WebhookReceiver } from '../../../test/fakes/webhook-receiver/index.js';
import { Pipeline, marketplaceLead, pipelineConfig } from '../../../test/pipeline/pipeline-harness.js';
import { buildOpsServer, startOps } from './ops-server.js';
import { OpsPasswordMissingError } from './ops-password-missing-error.js';

/** Distinctive secret values: none may appear in any page or API answer. */
const SECRETS = {
  opsPassword: 'ops-pw-Zq81xK-do-not-show',
  hookSigning: 'whsec_aG9va3NpZ25pbmdzZWNyZXQtZG8tbm90LXNob3c=',
  hookHeader: 'hdr-token-Xy71-do-not-show',
  accountKey: 'QUNDT1VOVGtleS1kby1ub3Qtc2hvdy0xMjM0NTY3ODkw',
  dynamicsSecret: 'dyn-client-secret-Pw93-do-not-show',
  alertSigning: 'whsec_YWxlcnRzaWduaW5nc2VjcmV0LWRvLW5vdC1zaG93',
  alertUrlToken: 'alert-url-token-Lm42',
};

const HOSTILE_NAME = '<script>alert("pwned")</script>';
const HOSTILE_ERROR = '<img src=x onerror=alert(1)> Email is not allowed here';

function auth(user = 'ops', password = SECRETS.opsPassword): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

function hostileLead(): Lead {
  const r = parseJsonLead({
    UserDetails: { FirstName: HOSTILE_NAME, LastName: 'Tables"; DROP', Email: `bobby-${Date.now()}@contoso.com`, Company: '<b>Evil & Co</b>' },
    LeadSource: 'AzureMarketplace-INS|contoso.widget', ActionCode: 'INS', OfferTitle: '<i>Widget</i>',
  });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.lead;
}

describe('ops server', () => {
  let failing: WebhookReceiver;
  let ok: WebhookReceiver;
  let p: Pipeline;
  let app: FastifyInstance;
  let deadLead: string;
  let pausedLead: string;

  const get = (url: string, headers: Record<string, string> = auth()) => app.inject({ method: 'GET', url, headers });
  const postForm = (url: string, fields: Record<string, string>, headers: Record<string, string> = {}) => app.inject({
    method: 'POST', url, payload: new URLSearchParams(fields).toString(),
    headers: { ...auth(), 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost', 'sec-fetch-site': 'same-origin', ...headers },
  });
  const postJson = (url: string, body?: unknown) => app.inject({
    method: 'POST', url, ...(body === undefined ? {} : { payload: body as object, headers: { ...auth(), 'content-type': 'application/json' } }),
    ...(body === undefined ? { headers: auth() } : {}),
  });
  /** The CSRF token the dashboard put in its forms. */
  const csrfToken = async (): Promise<string> => {
    const page = await get('/destinations/other');
    const m = /name="_csrf" value="([^"]+)"/.exec(page.body);
    if (!m) throw new Error('no CSRF token on the destination page');
    return m[1]!;
  };

  beforeAll(async () => {
    failing = await WebhookReceiver.start();
    ok = await WebhookReceiver.start();
    p = new Pipeline(pipelineConfig(`
  - id: hook
    type: https
    url: "${failing.url('/hook')}"
    signingSecret: "${SECRETS.hookSigning}"
    headers: { Authorization: "Bearer ${SECRETS.hookHeader}" }
  - { id: other, type: https, url: "${ok.url('/other')}" }
  - id: vault
    type: azure-table
    enabled: false
    connectionString: "DefaultEndpointsProtocol=https;AccountName=contosoleads;AccountKey=${SECRETS.accountKey};EndpointSuffix=core.windows.net"
  - id: crm
    type: dynamics
    enabled: false
    instanceUrl: https://contoso.crm.dynamics.com
    auth: { mode: client-secret, tenantId: 00000000-0000-0000-0000-000000000001, clientId: 00000000-0000-0000-0000-000000000002, clientSecret: "${SECRETS.dynamicsSecret}" }`, `
ops: { username: ops, password: "${SECRETS.opsPassword}" }
alerts: { webhookUrl: "https://alerts.example.com/hook?token=${SECRETS.alertUrlToken}", signingSecret: "${SECRETS.alertSigning}" }`));
    await p.startWorkers();
    // A permanent rejection quoting hostile markup: dead-lettered at once.
    failing.failNext(1, 422, { body: { error: HOSTILE_ERROR } });
    deadLead = await p.accept(hostileLead());
    await p.waitForState(deadLead, 'hook', ['dead']);
    // Then an authentication failure: the destination pauses and keeps the lead.
    failing.setDefaultReply({ status: 401, body: { error: 'invalid_token' } });
    pausedLead = await p.accept(marketplaceLead());
    await p.waitForState(pausedLead, 'hook', ['paused']);
    await p.waitForState(pausedLead, 'other', ['delivered']);
    ({ app } = await buildOpsServer({ config: p.config }));
  });

  afterAll(async () => {
    await app?.close();
    await p?.close();
    await failing?.stop();
    await ok?.stop();
  });

  describe('authentication', () => {
    it.each(['/', '/dlq', '/destinations/hook', `/leads/x`, '/api/destinations', '/api/dlq', '/queues/', '/queues/api/queues', '/assets/ops.css'])('answers 401 on %s without credentials', async (url) => {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Basic realm="LeadRelay ops"/);
    });

    it('answers 401 to a wrong password, a wrong user name and a malformed header', async () => {
      expect((await get('/', auth('ops', 'wrong-password'))).statusCode).toBe(401);
      expect((await get('/', auth('admin', SECRETS.opsPassword))).statusCode).toBe(401);
      expect((await get('/', auth('ops', `${SECRETS.opsPassword}x`))).statusCode).toBe(401);
      expect((await get('/', { authorization: 'Bearer something' })).statusCode).toBe(401);
      expect((await app.inject({ method: 'POST', url: '/api/dlq/replay', payload: { all: true } })).statusCode).toBe(401);
      expect(await p.relay.deadLetters({ destination: 'hook' })).toHaveLength(1);
    });

    it('serves /healthz, /readyz and /metrics without credentials; queue gauges come from Redis', async () => {
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready', checks: { config: 'ok', redis: 'ok' } });
      const metrics = await app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.statusCode).toBe(200);
      expect(metrics.body).toContain('leadrelay_queue_jobs{destination="hook",state="failed"} 1');
      expect(metrics.body).toContain('leadrelay_queue_jobs{destination="hook",state="paused"} 1');
    });

    it('accepts the right credentials', async () => {
      const res = await get('/');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('text/html');
      expect(res.headers['content-security-policy']).toContain("default-src 'none'");
      expect(res.headers['x-frame-options']).toBe('DENY');
    });

    it('live pages reload themselves every 15 s through a same-origin script the CSP allows; forms-only pages do not', async () => {
      for (const url of ['/', '/destinations/other']) {
        const page = await get(url);
        expect(page.body, url).toContain('<body data-refresh="15">');
        expect(page.body, url).toContain('<script src="/assets/refresh.js" defer></script>');
        expect(page.headers['content-security-policy']).toContain("script-src 'self'");
      }
      const dlq = await get('/dlq');
      expect(dlq.body).not.toContain('data-refresh');
      expect(dlq.body).not.toContain('<script');
      const script = await get('/assets/refresh.js');
      expect(script.statusCode).toBe(200);
      expect(script.headers['content-type']).toMatch(/^text\/javascript/);
      // It leaves a page alone while someone types or selects, so a half-typed lead id is not lost.
      expect(script.body).toContain("['INPUT', 'TEXTAREA', 'SELECT'].includes(active.tagName)");
      expect(script.body).toContain('location.reload()');
    });

    it('refuses to start without ops.password, with a message that says what to set', async () => {
      const config = { ...p.config, ops: { ...p.config.ops, password: undefined } };
      await expect(startOps({ config })).rejects.toThrow(OpsPasswordMissingError);
      await expect(startOps({ config })).rejects.toThrow(/ops\.password is not set.*OPS_PASSWORD/s);
    });
  });

  describe('pages from a real pipeline run', () => {
    it('home lists every destination with its state, counts and the pause reason', async () => {
      const res = await get('/');
      const body = res.body;
      for (const id of ['hook', 'other', 'vault', 'crm']) expect(body).toContain(`href="/destinations/${id}"`);
      expect(body).toMatch(/<span class="state-paused">paused<\/span>/);
      expect(body).toContain('href="/dlq?destination=hook">1</a>');
      expect(body).toContain('127.0.0.1');
      expect(body).toContain('contosoleads.table.core.windows.net');
      expect(body).toContain('contoso.crm.dynamics.com');
      expect(body).toContain('401');
    });

    it('a destination page shows state, pause reason, remediation, counts, dead letters and a resume button', async () => {
      const res = await get('/destinations/hook');
      expect(res.statusCode).toBe(200);
      const body = res.body;
      expect(body).toContain('LeadRelay after a configuration failure');
      expect(body).toMatch(/Pause reason<\/dt><dd class="error">[^<]*401/);
      expect(body).toMatch(/What to do<\/dt><dd>[^<]*resume/i);
      expect(body).toContain('action="/destinations/hook/resume"');
      expect(body).toContain(`href="/leads/${deadLead}"`);
      expect(body).toContain('Dead-lettered</th><td class="num">1</td><td class="num">1</td>');
      expect(body).toContain('href="/queues/queue/hook"');
      const other = await get('/destinations/other');
      expect(other.body).toContain('<span class="state-running">running</span>');
      expect(other.body).toContain('Delivered</th><td class="num">2</td><td class="num">2</td>');
      expect(other.body).toContain('action="/destinations/other/pause"');
      expect((await get('/destinations/nope')).statusCode).toBe(404);
    });

    it('the dead-letter page lists lead, attempts, last error, remediation and time with replay and purge', async () => {
      const body = (await get('/dlq')).body;
      expect(body).toContain(`href="/leads/${deadLead}"`);
      expect(body).toContain('Email is not allowed here');
      expect(body).toMatch(/<td class="num">1<\/td>/);
      expect(body).toMatch(/<time datetime="\d{4}-/);
      expect(body).toContain('action="/dlq/replay"');
      expect(body).toContain('action="/dlq/purge"');
      expect((await get('/dlq?destination=other')).body).toContain('No dead-lettered deliveries');
    });

    it('a lead page shows where the lead is at every destination, each attempt and what to do', async () => {
      const res = await get(`/leads/${pausedLead}`);
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('<span class="state-paused">paused</span>');
      expect(res.body).toContain('<span class="state-delivered">delivered</span>');
      expect(res.body).toMatch(/class="outcome-paused">paused<\/td>/);
      expect(res.body).toMatch(/class="outcome-delivered">delivered<\/td>/);
      expect(res.body).toMatch(/\d+ ms<\/td>/);
      expect(res.body).toContain('Fix and resume hook');
      expect(res.body).not.toContain('Arrived from');
      // The same customer action from a pull source merges into it: the page lists both arrivals.
      const lead = (await p.relay.leads.getLead(pausedLead))!;
      expect(await p.relay.accept({ ...lead, id: 'row-42' }, { clientId: true, origin: 'azure-table:old-table' })).toMatchObject({ id: pausedLead, mergedFrom: 'row-42' });
      expect((await get(`/leads/${pausedLead}`)).body).toMatch(/Arrived from<\/dt><dd><ul class="plain"><li><time[^>]*>[^<]*<\/time> unknown as <span class="mono">[^<]+<\/span><\/li><li><time[^>]*>[^<]*<\/time> azure-table:old-table as <span class="mono">row-42<\/span>/);
      const dead = await get(`/leads/${deadLead}`);
      expect(dead.body).toContain('Replay to hook');
      // The lookup form redirects to the lead page; an unknown or malformed id is answered plainly.
      const lookup = await get(`/leads?id=${deadLead}`);
      expect(lookup.statusCode).toBe(303);
      expect(lookup.headers.location).toBe(`/leads/${deadLead}`);
      expect((await get('/leads/no-such-lead')).statusCode).toBe(404);
      expect((await get('/leads?id=%3Cscript%3E')).statusCode).toBe(400);
    });

    it('serves bull-board for every destination queue under /queues, read-only', async () => {
      const page = await get('/queues/');
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<title>LeadRelay queues</title>');
      // Nothing from the internet (bull-board links Google Fonts), a CSP that keeps it so, 24-hour times.
      expect(page.body).not.toMatch(/googleapis|gstatic|https?:\/\/(?!localhost)/);
      expect(page.headers['content-security-policy']).toContain("font-src 'self'");
      const uiConfig = JSON.parse(/<script id="__UI_CONFIG__" type="application\/json">(.*?)<\/script>/s.exec(page.body)![1]!) as { dateFormats: Record<string, { hourCycle?: string }>; theme: { light: Record<string, string> } };
      expect(Object.values(uiConfig.dateFormats).map((f) => f.hourCycle)).toEqual(['h23', 'h23', 'h23']);
      expect(uiConfig.theme.light['font-sans']).toContain('system-ui');
      const script = /src="(static\/js\/[^"]+\.js)"/.exec(page.body);
      expect(script).not.toBeNull();
      const asset = await get(`/queues/${script![1]}`);
      expect(asset.statusCode).toBe(200);
      expect(asset.headers['content-type']).toContain('javascript');
      const queues = (await get('/queues/api/queues')).json() as { queues: { name: string; readOnlyMode: boolean }[] };
      expect(queues.queues.map((q) => q.name).sort()).toEqual(['crm', 'hook', 'other', 'vault']);
      expect(queues.queues.every((q) => q.readOnlyMode)).toBe(true);
      // Changes go through LeadRelay so lead status and pause reasons stay true.
      const retry = await app.inject({ method: 'PUT', url: '/queues/api/queues/hook/retry/failed', headers: { ...auth(), origin: 'http://localhost' } });
      expect(retry.statusCode).toBe(405);
      expect(await p.relay.deadLetters({ destination: 'hook' })).toHaveLength(1);
    });

    it('masks customer data on every page, in the API and in bull-board unless asked; no stack trace with server paths', async () => {
      const lead = (await p.relay.leads.getLead(deadLead))!;
      const email = lead.customer.email!;
      const pages = await Promise.all(['/', '/dlq', '/destinations/hook', `/leads/${deadLead}`, '/api/dlq', `/api/leads/${deadLead}`, '/api/destinations/hook'].map((u) => get(u)));
      for (const page of pages) {
        expect(page.body).not.toContain(email);
        expect(page.body).not.toContain('pwned');
      }
      expect(pages[3]!.body).toContain('Show personal data');
      expect(pages[3]!.body).toContain('b•••@contoso.com');
      expect((await get(`/leads/${deadLead}?pii=1`)).body).toContain(email);
      const board = await get('/queues/api/queues?activeQueue=hook&status=failed&page=1&jobsPerPage=50');
      expect(board.statusCode).toBe(200);
      expect(board.body).toContain(deadLead);
      expect(board.body).not.toContain(email);
      expect(board.body).not.toMatch(/\.ts:\d+|\.js:\d+|\/work\/|node_modules/);
    });

    it('escapes every value from leads and errors', async () => {
      const pages = await Promise.all(['/', '/dlq', '/destinations/hook', `/leads/${deadLead}?pii=1`, '/leads?id=%3Cscript%3Ex'].map((u) => get(u)));
      const lead = pages[3]!.body;
      expect(lead).not.toContain('<script>');
      expect(lead).toContain('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;');
      expect(lead).toContain('&lt;b&gt;Evil &amp; Co&lt;/b&gt;');
      expect(lead).toContain('&lt;i&gt;Widget&lt;/i&gt;');
      for (const page of pages) {
        // The one script a page may carry is the dashboard's own, by URL.
        expect(page.body.replace('<script src="/assets/refresh.js" defer></script>', '')).not.toContain('<script');
        expect(page.body).not.toContain('<img');
        expect(page.body).not.toContain('<b>');
      }
      expect(pages[1]!.body).toContain('&lt;img src=x onerror=alert(1)&gt;');
      expect(pages[4]!.body).toContain('&#39;&lt;script&gt;x&#39;');
    });
  });

  describe('JSON API', () => {
    it('GET /api/destinations and /api/destinations/:id give state, counts, hosts and the pause detail', async () => {
      const list = (await get('/api/destinations')).json() as { destination: string; state: string; dead: number; hosts: string[] }[];
      expect(list.map((d) => d.destination)).toEqual(['hook', 'other', 'vault', 'crm']);
      expect(list[0]).toMatchObject({ destination: 'hook', type: 'https', state: 'paused', dead: 1, hosts: [`127.0.0.1:${failing.port}`] });
      const hook = (await get('/api/destinations/hook')).json() as Record<string, unknown>;
      expect(hook).toMatchObject({ state: 'paused', pause: { by: 'configuration' }, lastErrorDetail: { kind: 'configuration', status: 401 } });
      expect(JSON.stringify(hook)).not.toContain('configHash');
      expect((await get('/api/destinations/nope')).statusCode).toBe(404);
      const unknownPause = await postJson('/api/destinations/nope/pause', {});
      expect(unknownPause.statusCode).toBe(404);
      expect(unknownPause.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(unknownPause.json()).toMatchObject({ status: 404, title: 'Unknown destination' });
    });

    it('GET /api/dlq and /api/leads/:id', async () => {
      const dlq = (await get('/api/dlq?destination=hook')).json() as Record<string, unknown>[];
      expect(dlq).toEqual([expect.objectContaining({ leadId: deadLead, destination: 'hook', attempts: 1, failedAt: expect.any(String), remediation: expect.any(String) })]);
      expect(dlq[0]!.lastError).toContain('Email is not allowed here');
      expect(dlq[0]).not.toHaveProperty('lead');
      const status = (await get(`/api/leads/${pausedLead}`)).json() as { deliveries: Record<string, { state: string }>; timeline: unknown[] };
      expect(status.deliveries.hook!.state).toBe('paused');
      expect(status.deliveries.other!.state).toBe('delivered');
      expect(status.timeline.length).toBeGreaterThanOrEqual(2);
      expect((await get('/api/leads/unknown-lead')).statusCode).toBe(404);
    });

    it('replay and purge need a lead id or all: true', async () => {
      expect((await postJson('/api/dlq/replay', {})).statusCode).toBe(400);
      expect((await postJson('/api/dlq/purge', { destination: 'hook' })).statusCode).toBe(400);
      expect((await postJson('/api/dlq/replay', { leadId: '<bad>' })).statusCode).toBe(400);
      expect((await postJson('/api/dlq/replay', { destination: 'nope', all: true })).statusCode).toBe(404);
      expect(await p.relay.deadLetters({})).toHaveLength(1);
    });
  });

  describe('secrets', () => {
    it('no configured secret appears in any page or API answer', async () => {
      const token = await csrfToken();
      const urls = ['/', '/dlq', '/dlq?destination=hook', '/destinations/hook', '/destinations/other', '/destinations/vault', '/destinations/crm',
        `/leads/${deadLead}`, `/leads/${pausedLead}`, '/api/destinations', '/api/destinations/hook', '/api/destinations/vault', '/api/destinations/crm',
        '/api/dlq', `/api/leads/${deadLead}`, '/queues/', '/queues/api/queues', '/queues/api/queues?activeQueue=hook&status=failed',
        '/queues/api/queues?activeQueue=hook&status=paused', '/metrics', '/readyz'];
      const answers: LightMyRequestResponse[] = await Promise.all(urls.map((u) => get(u)));
      answers.push(await postForm('/dlq/purge', { _csrf: token, destination: 'hook', all: '1' }));
      for (const [i, res] of answers.entries()) {
        expect(res.statusCode, urls[i]).toBeLessThan(400);
        for (const [name, secret] of Object.entries(SECRETS)) {
          expect(res.body.includes(secret), `${name} in ${urls[i] ?? 'purge confirmation'}`).toBe(false);
          expect(res.body.includes(secret.replace(/^whsec_/, '')), `${name} in ${urls[i] ?? 'purge confirmation'}`).toBe(false);
        }
      }
      // Nothing was hidden after the fact either: no page held a secret to redact.
      for (const res of answers) expect(res.body).not.toContain('[redacted]');
      // bull-board saw the jobs (it is not just an empty shell).
      expect(answers[urls.indexOf('/queues/api/queues?activeQueue=hook&status=failed')]!.body).toContain(deadLead);
    });
  });

  describe('state-changing forms', () => {
    it('refuse a form without the CSRF token, and cross-site requests even with credentials', async () => {
      const token = await csrfToken();
      expect((await postForm('/dlq/replay', { destination: 'hook', all: '1' })).statusCode).toBe(403);
      expect((await postForm('/dlq/replay', { destination: 'hook', all: '1', _csrf: 'forged' })).statusCode).toBe(403);
      const crossSite = await postForm('/dlq/replay', { destination: 'hook', all: '1', _csrf: token }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
      expect(crossSite.statusCode).toBe(403);
      expect(crossSite.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(crossSite.json()).toMatchObject({ status: 403, title: 'Cross-site request refused' });
      expect((await postForm('/dlq/replay', { _csrf: token, all: '1' }, { origin: 'https://evil.example', 'sec-fetch-site': '' })).statusCode).toBe(403);
      expect((await postForm('/destinations/other/pause', { _csrf: token }, { origin: 'null', 'sec-fetch-site': '' })).statusCode).toBe(403);
      const apiCrossSite = await app.inject({ method: 'POST', url: '/api/dlq/replay', payload: { all: true }, headers: { ...auth(), origin: 'https://evil.example' } });
      expect(apiCrossSite.statusCode).toBe(403);
      const textPlain = await app.inject({ method: 'POST', url: '/api/dlq/replay', payload: '{"all":true}', headers: { ...auth(), 'content-type': 'text/plain' } });
      expect(textPlain.statusCode).toBe(415);
      expect(await p.relay.deadLetters({})).toHaveLength(1);
      expect((await p.relay.stats('other')).state).toBe('running');
    });

    it('purge asks for confirmation first', async () => {
      const token = await csrfToken();
      const ask = await postForm('/dlq/purge', { _csrf: token, destination: 'hook', leadId: deadLead, return: 'destination' });
      expect(ask.statusCode).toBe(200);
      expect(ask.body).toContain('Purge dead letters?');
      expect(ask.body).toContain('name="confirm" value="yes"');
      expect(await p.relay.deadLetters({})).toHaveLength(1);
    });

    it('replay from the dead-letter page re-queues the lead with fresh attempts', async () => {
      const token = await csrfToken();
      const res = await postForm('/dlq/replay', { _csrf: token, destination: 'hook', leadId: deadLead, return: 'destination' });
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe('/destinations/hook?done=replayed&n=1');
      expect((await get(res.headers.location as string)).body).toContain('1 dead-lettered delivery re-queued with fresh attempts.');
      expect(await p.relay.deadLetters({})).toHaveLength(0);
      const job = await p.relay.queue('hook').getJob(p.relay.keys.jobId('hook', deadLead));
      expect(await job!.getState()).toBe('waiting');
      expect(job!.attemptsMade).toBe(0);
      expect((await p.relay.status(deadLead))!.deliveries.hook!.state).toBe('paused');
    });

    it('resume and pause buttons change delivery', async () => {
      const token = await csrfToken();
      failing.setDefaultReply({ status: 200 });
      const resumed = await postForm('/destinations/hook/resume', { _csrf: token });
      expect(resumed.statusCode).toBe(303);
      expect(resumed.headers.location).toBe('/destinations/hook?done=resumed');
      expect((await p.relay.stats('hook')).state).toBe('running');
      // Both held leads (the paused one and the replayed one) are delivered.
      await p.waitForState(pausedLead, 'hook', ['delivered']);
      await p.waitForState(deadLead, 'hook', ['delivered']);

      const paused = await postForm('/destinations/other/pause', { _csrf: token, reason: 'CRM maintenance <tonight>' });
      expect(paused.statusCode).toBe(303);
      const stats = await p.relay.stats('other');
      expect(stats).toMatchObject({ state: 'paused', pausedReason: 'CRM maintenance <tonight>' });
      expect(paused.headers.location).toBe('/destinations/other?done=paused');
      const page = (await get(paused.headers.location as string)).body;
      expect(page).toContain('Delivery paused. Leads keep queueing until you resume.');
      expect(page).toContain('CRM maintenance &lt;tonight&gt;');
      const held = await p.accept(marketplaceLead());
      await p.waitForState(held, 'hook', ['delivered']);
      expect((await p.relay.status(held))!.deliveries.other!.state).toBe('paused');

      const viaApi = await postJson('/api/destinations/other/resume');
      expect(viaApi.statusCode).toBe(200);
      expect(viaApi.json()).toMatchObject({ destination: 'other', state: 'running' });
      await p.waitForState(held, 'other', ['delivered']);
      const pausedViaApi = await postJson('/api/destinations/other/pause', { reason: 'api pause' });
      expect(pausedViaApi.json()).toMatchObject({ state: 'paused', pause: { by: 'operator', reason: 'api pause' } });
      expect((await postJson('/api/destinations/other/resume', {})).json()).toMatchObject({ state: 'running' });
    });

    it('API replay and purge act on the dead-letter set', async () => {
      failing.failNext(2, 422, { body: { error: 'rejected' } });
      const a = await p.accept(marketplaceLead());
      const b = await p.accept(marketplaceLead());
      await p.waitForState(a, 'hook', ['dead']);
      await p.waitForState(b, 'hook', ['dead']);
      expect((await postJson('/api/dlq/purge', { destination: 'hook', leadId: a })).json()).toEqual({ purged: 1 });
      expect((await p.relay.deadLetters({})).map((d) => d.leadId)).toEqual([b]);
      expect((await postJson('/api/dlq/replay', { destination: 'hook', all: true })).json()).toEqual({ replayed: 1 });
      await p.waitForState(b, 'hook', ['delivered']);
      expect(await p.relay.deadLetters({})).toHaveLength(0);
    });

    it('API dlq filters: time, code and offer narrow the list and the actions; dryRun counts; a bad time is a 400 naming the field', async () => {
      failing.failNext(2, 422, { body: { error: 'rejected' } });
      const a = await p.accept(marketplaceLead());
      const b = await p.accept(marketplaceLead({ LeadSource: 'AzureMarketplace-INS|fabrikam.app' }));
      await p.waitForState(a, 'hook', ['dead']);
      await p.waitForState(b, 'hook', ['dead']);
      const ids = async (query: string) => ((await get(`/api/dlq${query}`)).json() as { leadId: string }[]).map((d) => d.leadId).sort();
      expect(await ids('?destination=hook&offer=fabrikam.*')).toEqual([b]);
      expect(await ids('?destination=hook&since=1h&code=LR_PAYLOAD_REJECTED')).toEqual([a, b].sort());
      expect(await ids('?destination=hook&until=2000-01-01T00:00:00Z')).toEqual([]);
      const bad = await get('/api/dlq?since=last-week');
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ status: 400, errors: [{ path: 'since' }] });
      expect((await postJson('/api/dlq/purge', { destination: 'hook', all: true, offer: 'contoso.*', dryRun: true })).json()).toEqual({ wouldPurge: 1 });
      expect((await postJson('/api/dlq/purge', { destination: 'hook', all: true, offer: 'contoso.*' })).json()).toEqual({ purged: 1 });
      expect(await ids('?destination=hook')).toEqual([b]);
      expect((await postJson('/api/dlq/purge', { destination: 'hook', all: true })).json()).toEqual({ purged: 1 });
    });

    it('HTML purge with confirmation deletes the dead letter', async () => {
      failing.failNext(1, 422, { body: { error: 'rejected again' } });
      const c = await p.accept(marketplaceLead());
      await p.waitForState(c, 'hook', ['dead']);
      const token = await csrfToken();
      const res = await postForm('/dlq/purge', { _csrf: token, all: '1', confirm: 'yes' });
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe('/dlq?done=purged&n=1');
      expect(await p.relay.deadLetters({})).toHaveLength(0);
    });
  });
});

describe('ops: pull sources on the dashboard, in the API and in bull-board', () => {
  const azurite = inject('azuriteConnectionString');
  const table = `T${uniquePrefix('ops').replace(/[^A-Za-z0-9]/g, '')}`;
  const wrongKey = Buffer.alloc(64, 3).toString('base64');
  let ok: WebhookReceiver;
  let p: Pipeline;
  let service: SourceService;
  let pollers: Relay;
  let app: FastifyInstance;
  const emails = [0, 1, 2].map((n) => `grace${n}-${Date.now()}@fabrikam.example`);
  const get = (url: string) => app.inject({ method: 'GET', url, headers: auth() });

  beforeAll(async () => {
    ok = await WebhookReceiver.start();
    const sourcesYaml = `
secrets: { key: "${Buffer.alloc(32, 5).toString('base64')}" }
sources:
  - { id: old-table, type: azure-table, connectionString: "${azurite}", table: ${table}, start: all }
  - { id: bad-key, type: azure-table, connectionString: "${azurite.replace(/AccountKey=[^;]+/, `AccountKey=${wrongKey}`)}", table: ${table}, start: all }
  - { id: unreachable, type: azure-table, connectionString: "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${wrongKey};TableEndpoint=http://127.0.0.1:9/devstoreaccount1;", table: ${table}, start: all }
  - { id: partner-center, type: referrals, enabled: false, tenantId: contoso.onmicrosoft.com, clientId: 00000000-0000-0000-0000-000000000003 }`;
    p = new Pipeline(pipelineConfig(`  - { id: other, type: https, url: "${ok.url('/other')}" }`, `
ops: { username: ops, password: "${SECRETS.opsPassword}" }${sourcesYaml}`));
    const client = TableClient.fromConnectionString(azurite, table, { allowInsecureConnection: true });
    await client.createTable();
    for (const [n, email] of emails.entries()) {
      await client.createEntity({
        partitionKey: 'contoso.widget', rowKey: `ops-row-${n}`, LeadSource: 'AzureMarketplace-INS|contoso.widget', ActionCode: 'INS', OfferDisplayName: 'Widget',
        CustomerInfo: JSON.stringify({ FirstName: 'Grace', LastName: `Hopper${n}`, Email: email }), CreatedTime: new Date().toISOString(),
      });
    }
    // Real polls (Azurite; a wrong key; nothing listening), so what the pages show is what a worker leaves in Redis.
    pollers = new Relay(p.config, { role: 'blocking' });
    service = new SourceService({ config: p.config, relay: pollers, logger: silentLogger, registry: new Registry(), schedule: false, attempts: 1, createSource: createPullSource });
    await service.start();
    await new Promise((r) => setTimeout(r, 5200)); // the table source leaves rows younger than 5 s for the next poll
    expect(await runPoll(service, 'old-table')).toBe('completed');
    expect(await runPoll(service, 'bad-key')).toMatch(/refused our credentials/);
    expect(await runPoll(service, 'unreachable')).not.toBe('completed');
    ({ app } = await buildOpsServer({ config: p.config, relay: p.relay }));
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await service?.close();
    await pollers?.close();
    await p?.close();
    await ok?.stop();
  });

  it('the home page lists every source: state, last poll, last error with its time, watermark, lag and leads found', async () => {
    const res = await get('/');
    expect(res.statusCode).toBe(200);
    const body = res.body;
    expect(body).toContain('<h2 id="sources">Sources</h2>');
    const row = (id: string) => {
      const m = new RegExp(`<tr>\\s*<th scope="row">${id}</th>([\\s\\S]*?)</tr>`).exec(body);
      expect(m, `row of ${id}`).not.toBeNull();
      return m![1]!;
    };
    const good = row('old-table');
    expect(good).toContain('<span class="state-running">running</span>');
    expect(good).toMatch(/<td><time datetime="\d{4}-[^"]+">[^<]+ UTC<\/time><\/td>\s*<td><time datetime=/); // last poll, last success
    expect(good).toMatch(/<span title="\d{4}-\d{2}-\d{2}T[\d:.]+Z"><time datetime="[^"]+">\d{4}-\d{2}-\d{2} [\d:]+ UTC<\/time><\/span> <span class="muted">\(\+1 id at that instant\)/); // the watermark
    expect(good).toMatch(/<td class="num">[\d.]+\u00a0s<\/td>/); // lag
    expect(good).toContain('<td class="num">1 / 0</td>');
    expect(good).toContain('<td class="num">3</td>');
    expect(good).toContain('<span class="muted">–</span></td>');
    const paused = row('bad-key');
    expect(paused).toContain('<span class="state-paused">paused</span>');
    expect(paused).toMatch(/<span class="error">the storage account refused our credentials \([^)]*\)<\/span> <span class="muted">\(<time datetime="\d{4}-/);
    expect(paused).toMatch(/What to do:<\/span> Check the source&#39;s connectionString/);
    expect(paused).toContain('<span class="muted">– (not read yet)</span>');
    const failing = row('unreachable');
    expect(failing).toContain('<span class="state-running">running</span>');
    expect(failing).toContain('<td class="num">0 / 1</td>');
    expect(failing).toMatch(/<span class="error">[^<]+<\/span> <span class="muted">\(<time datetime="\d{4}-[^"]+">/);
    expect(row('partner-center')).toContain('<span class="muted">disabled</span>');
    expect(body).toContain('<strong class="state-paused">1 paused</strong>; <strong class="state-failing">1 with a failed last poll</strong>');
    // Nothing of a source's settings nor of its leads' customers.
    for (const email of emails) expect(body).not.toContain(email);
    expect(body).not.toContain(wrongKey);
    expect(body).not.toContain('AccountKey');
  });

  it('GET /api/sources gives what `leadrelay sources --json` prints', async () => {
    const res = await get('/api/sources');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const list = res.json() as (SourceHealth & { lagSeconds?: number })[];
    expect(list.map((s) => [s.source, s.type, s.state])).toEqual([
      ['old-table', 'azure-table', 'running'], ['bad-key', 'azure-table', 'paused'], ['unreachable', 'azure-table', 'running'], ['partner-center', 'referrals', 'disabled']]);
    expect(list[0]).toMatchObject({ polls: 1, failedPolls: 0, leadsFound: 3, watermark: { ts: expect.any(String), ids: expect.any(Array) }, lagSeconds: expect.any(Number) });
    expect(list[1]).toMatchObject({ pause: { reason: expect.stringMatching(/refused our credentials/), remediation: expect.stringMatching(/connectionString/), at: expect.any(String) } });
    expect(list[2]).toMatchObject({ failedPolls: 1, lastError: expect.any(String), lastPollAt: expect.any(String) });
    expect(res.body).not.toContain(wrongKey);
    for (const email of emails) expect(res.body).not.toContain(email);
  });

  it('bull-board shows the source and write-back queues, read-only', async () => {
    const queues = (await get('/queues/api/queues')).json() as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(queues.queues.map((q) => q.name).sort()).toEqual(['_sources', '_writeback', 'other']);
    expect(queues.queues.every((q) => q.readOnlyMode)).toBe(true);
    const failed = await get('/queues/api/queues?activeQueue=_sources&status=failed&page=1&jobsPerPage=50');
    expect(failed.statusCode).toBe(200);
    expect(failed.body).toContain('refused our credentials');
    expect(failed.body).toContain('"stacktrace":["UnrecoverableError: the storage account refused our credentials');
    expect(failed.body).not.toContain(wrongKey);
    // A failure shows as its message: no stack trace with server paths.
    expect(failed.body).not.toMatch(/\.ts:\d+|\.js:\d+|\/work\/|node_modules/);
    const one = JSON.parse(failed.body) as { queues: { name: string; jobs: { id: string }[] }[] };
    const jobId = one.queues.find((q) => q.name === '_sources')!.jobs[0]!.id;
    const job = await get(`/queues/api/queues/_sources/${encodeURIComponent(jobId)}`);
    expect(job.statusCode).toBe(200);
    expect(job.body).not.toMatch(/\.ts:\d+|\.js:\d+|\/work\/|node_modules/);
    const completed = await get('/queues/api/queues?activeQueue=_sources&status=completed&page=1&jobsPerPage=50');
    expect(completed.body).toContain('old-table');
    // The delivery jobs of the table's leads stay masked there.
    const deliveries = await get('/queues/api/queues?activeQueue=other&status=completed&page=1&jobsPerPage=50');
    for (const email of emails) {
      expect(completed.body).not.toContain(email);
      expect(deliveries.body).not.toContain(email);
    }
    const retry = await app.inject({ method: 'PUT', url: '/queues/api/queues/_sources/retry/failed', headers: { ...auth(), origin: 'http://localhost' } });
    expect(retry.statusCode).toBe(405);
    expect(await service.queue.getJobCounts('failed')).toEqual({ failed: 2 });
    // The board page itself still loads nothing from the internet.
    const page = await get('/queues/');
    expect(page.body).not.toMatch(/googleapis|gstatic/);
    expect(page.headers['content-security-policy']).toContain("font-src 'self'");
  });

  it('GET /api/sources answers a problem (503, Retry-After) while Redis does not answer, and the home page a 503 page', async () => {
    const config = { ...p.config, redis: { ...p.config.redis, url: 'redis://127.0.0.1:9' } };
    const { app: down } = await buildOpsServer({ config });
    try {
      const api = await down.inject({ method: 'GET', url: '/api/sources', headers: auth() });
      expect(api.statusCode).toBe(503);
      expect(api.headers['retry-after']).toBe('5');
      expect(api.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(api.json()).toMatchObject({ status: 503, detail: expect.stringMatching(/Redis does not answer/) });
      expect((await down.inject({ method: 'GET', url: '/', headers: auth() })).statusCode).toBe(503);
    } finally {
      await down.close();
    }
  });
});

describe('ops with the bundled dev password', () => {
  it('refuses to listen beyond loopback unless insecure dev mode is on', async () => {
    const config = pipelineConfig('  - { id: other, type: https, url: "https://example.com/x" }', 'ops: { host: 0.0.0.0, port: 0, password: dev-password-change-me }');
    await expect(startOps({ config })).rejects.toMatchObject({ code: 'LR_DEV_CREDENTIALS_EXPOSED' });
  });
});

describe('ops while Redis does not answer', () => {
  it('answers 503 with Retry-After (a problem under /api, a page elsewhere) instead of a 500, and again once Redis is back', async () => {
    const config = pipelineConfig('  - { id: other, type: https, url: "https://example.com/x" }', `ops: { host: 127.0.0.1, port: 0, password: "${SECRETS.opsPassword}" }`);
    const reachable = config.redis.url;
    config.redis.url = 'redis://127.0.0.1:9'; // nothing listens on the discard port
    const { app: down } = await buildOpsServer({ config });
    try {
      const page = await down.inject({ method: 'GET', url: '/', headers: auth() });
      expect(page.statusCode).toBe(503);
      expect(page.headers['retry-after']).toBe('5');
      expect(page.body).toContain('Lead storage is unavailable');
      const api = await down.inject({ method: 'GET', url: '/api/destinations', headers: auth() });
      expect(api.statusCode).toBe(503);
      expect(api.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(api.json()).toMatchObject({ status: 503, type: expect.stringMatching(/\/unavailable$/), detail: expect.stringMatching(/Redis does not answer/) });
    } finally {
      await down.close();
    }
    config.redis.url = reachable;
    const { app: up } = await buildOpsServer({ config });
    try {
      expect((await up.inject({ method: 'GET', url: '/api/destinations', headers: auth() })).statusCode).toBe(200);
    } finally {
      await up.close();
    }
  });
});
