import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '@leadrelay/config';
import { Relay } from '@leadrelay/queue';
import { ROOT } from '../compose/compose-model.js';
import { ServiceProcess } from '../compose-run/service-process.js';
import { findLeaks, SecretValues } from './secret-values.js';
import { Customers, SecretsWorld } from './secrets-world.js';

/**
 * Secrets never appear in logs, errors, remediations or metrics. Every destination type runs
 * with distinctive secret values (client secrets, passwords, signing secrets, API keys, a storage
 * AccountKey, the ops password, the Redis password) through intake + worker + ops as CLI processes at
 * LOG_LEVEL=debug; wrong credentials pause destinations, rejections dead-letter leads, throttling is
 * waited out. Then no secret may appear in any process output, anything stored in Redis, the CLI's
 * status/stats/dlq/check/validate output, the intake API, /metrics, the ops pages, API and bull-board,
 * or the alert posts; and customer data appears in no log line below debug.
 * Needs `npm run build` (the processes run the compiled CLI).
 */

const CLI = join(ROOT, 'apps/cli/bin/leadrelay.js');
const secrets = new SecretValues();
const customers = new Customers(secrets.tag);
let world: SecretsWorld;
let relay: Relay | undefined;
const processes: ServiceProcess[] = [];
/** Everything collected, by where it came from; searched for secrets at the end. */
const artifacts: Record<string, string> = {};
const leadIds: string[] = [];

const childEnv = (): Record<string, string> => ({
  ...(process.env as Record<string, string>),
  ...secrets.env,
  LOG_LEVEL: 'debug',
});

/**
 * One CLI command, awaited without blocking this process: the fakes it talks to (check) live here.
 * Killed after `timeoutMs`.
 */
function cli(args: string[], label = args.join(' '), timeoutMs = 60_000): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args, '--config', world.configPath], { cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (status) => {
      clearTimeout(timer);
      artifacts[`cli: leadrelay ${label}`] = out;
      resolve({ status, out });
    });
  });
}

async function get(url: string, label: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const r = await fetch(url, { headers, signal: AbortSignal.timeout(15_000) });
  const text = await r.text();
  artifacts[label] = `${r.status} ${JSON.stringify(Object.fromEntries(r.headers))}\n${text}`;
  return { status: r.status, text };
}

const intakeUrl = () => `http://127.0.0.1:${world.ports.intake}`;
const opsUrl = () => `http://127.0.0.1:${world.ports.ops}`;
const opsAuth = () => ({ authorization: `Basic ${Buffer.from(`ops:${secrets.opsPassword}`).toString('base64')}` });

type Status = { deliveries: Record<string, { state: string; lastError?: string; remediation?: string }> };

describe('no secret leaks, whatever fails', () => {
  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'apps/cli/dist/main.js'))) throw new Error('apps/cli/dist is missing: run `npm run build` before this test');
    world = new SecretsWorld(secrets, customers, inject('azuriteConnectionString'), inject('tlsCert'));
    await world.start();
    relay = new Relay(loadConfig(world.configPath, { env: secrets.env }));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop(5000)));
    await relay?.close();
    await world?.stop();
  }, 60_000);

  it('validate and check answer without secrets, and check names each broken credential', async () => {
    const validate = await cli(['validate', '--json'], 'validate --json');
    expect(validate.status, validate.out).toBe(0);
    await cli(['validate'], 'validate');
    const check = await cli(['check', '--json'], 'check --json');
    expect(check.status, check.out).toBe(1);
    // Each broken destination is reported as such, with a remediation.
    for (const id of ['table-badkey', 'crm-badsecret', 'crm-password', 'mkto-bad', 'sf-api-bad']) expect(check.out, id).toContain(id);
    expect(check.out).toMatch(/AADSTS7000215|client secret/i);
    await cli(['check'], 'check');
  }, 120_000);

  it('runs leads through intake, worker and ops at debug level until every failure has happened', async () => {
    const env = childEnv();
    for (const command of ['intake', 'worker', 'ops'] as const) {
      processes.push(ServiceProcess.start(command, ['node', CLI, command, '--config', world.configPath], { cwd: ROOT, env, keepBytes: Number.POSITIVE_INFINITY }));
    }
    const [intake, worker, ops] = processes as [ServiceProcess, ServiceProcess, ServiceProcess];
    await intake.waitFor(`${intakeUrl()}/readyz`, 60_000);
    await worker.waitFor(`http://127.0.0.1:${world.ports.worker}/readyz`, 60_000);
    await ops.waitFor(`${opsUrl()}/readyz`, 60_000);

    // Throttling at the CRMs too, once each: their waits and messages go through the same checks. (Not at Entra ID:
    // LeadRelay waits a fixed 60 s after a token 429, whatever its Retry-After, which would only slow this suite.)
    world.dataverse.injectFault({ kind: 'throttle', retryAfterSeconds: 1 }, 1);
    world.marketo.failNext(1, { code: '606' });

    // The key in all three places intake takes it (?code= is the one a URL log line could carry).
    const post = async (url: string, headers: Record<string, string>, body: string) => {
      const r = await fetch(`${intakeUrl()}${url}`, { method: 'POST', headers, body, signal: AbortSignal.timeout(15_000) });
      const json = await r.json() as { id: string };
      expect(r.status, JSON.stringify(json)).toBe(202);
      leadIds.push(json.id);
    };
    await post(`/v1/leads?code=${encodeURIComponent(secrets.intakeKey)}&offer=contoso.pii`, { 'content-type': 'application/json' }, JSON.stringify({
      UserDetails: { FirstName: 'Ada', LastName: customers.lastName, Email: customers.email, Phone: '+1 617 555 0100', Company: 'Fabrikam', Country: 'US', Title: 'CTO' },
      LeadSource: 'AzureMarketplace', ActionCode: 'INS', OfferTitle: 'Widget', Description: 'Wants a demo',
    }));
    // No email: Marketo dead-letters it without sending.
    await post('/v1/leads', { 'x-api-key': secrets.intakeKey, 'content-type': 'application/json' }, JSON.stringify({
      source: 'AzureMarketplace', action: 'INS', offer: 'contoso.widget', customer: { firstName: 'Grace', lastName: `Hopper${secrets.tag}`, company: 'Navy' },
    }));
    // Salesforce's validation rule rejects this one, quoting the email.
    await post('/v1/leads', { authorization: `Bearer ${secrets.intakeKey}`, 'content-type': 'application/x-www-form-urlencoded' }, new URLSearchParams({
      first_name: 'Grace', last_name: customers.lastName, email: customers.rejectedEmail, company: 'Competitor', lead_source: 'AzureMarketplace-INS|contoso.widget',
    }).toString());

    // Each lead's state per destination; a list where either is right because it depends on which lead a worker
    // takes first.
    const expected = (leadIndex: number): Record<string, string | string[]> => {
      const o: Record<string, string | string[]> = { ...SecretsWorld.OUTCOMES };
      // hook-reject quotes the first lead's email in its answer, so it takes only that lead (offer contoso.pii).
      if (leadIndex > 0) o['hook-reject'] = 'skipped';
      // No email: dead-lettered without a call, unless mkto-bad was paused (bad secret) before it took this lead.
      if (leadIndex === 1) Object.assign(o, { 'mkto-ok': 'dead', 'mkto-bad': ['paused', 'dead'] });
      if (leadIndex === 2) o['sf-api-ok'] = 'dead';
      return o;
    };
    const reached = (states: Record<string, string>, want: Record<string, string | string[]>) =>
      Object.keys(states).length === Object.keys(want).length
      && Object.entries(want).every(([d, w]) => (Array.isArray(w) ? w : [w]).includes(states[d] ?? ''));
    const deadline = Date.now() + 90_000;
    let last: Record<string, string>[] = [];
    for (;;) {
      last = [];
      for (const id of leadIds) {
        const s = await relay!.status(id);
        last.push(Object.fromEntries(Object.entries(s?.deliveries ?? {}).map(([d, r]) => [d, r.state])));
      }
      if (last.every((states, i) => reached(states, expected(i)))) break;
      if (Date.now() > deadline || processes.some((p) => !p.running)) {
        throw new Error(`leads did not reach the expected states:\n${JSON.stringify(last, null, 1)}\nexpected:\n${JSON.stringify(leadIds.map((_, i) => expected(i)))}\n`
          + `worker:\n${worker.outputTail.slice(-4000)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    // Throttling happened (and was waited out before it counted as the attempt).
    expect(world.hookThrottle.requestCount).toBeGreaterThanOrEqual(2);
    expect(world.dataverse.requests.some((r) => r.outcome === 429)).toBe(true);
    expect(world.marketo.calls.some((c) => (c.response as { errors?: { code?: string }[] } | undefined)?.errors?.[0]?.code === '606')).toBe(true);

    // The secrets were really in play: each fake saw the value it was meant to see, so "not found" below means something.
    const hook = world.hookOk.requests.find((r) => r.method === 'POST')!;
    expect(hook.headers['x-api-key']).toBe(secrets.hookHeaderKey);
    expect(hook.headers.authorization).toBe(`Bearer ${secrets.hookBearer}`);
    expect(hook.query.sig).toBe(secrets.hookUrlSig);
    expect(hook.signatureValid).toBe(true);
    const tokenForms = world.ad.tokenRequests.map((r) => r.form);
    expect(tokenForms.some((f) => f.client_secret === secrets.dynamicsSecretBad)).toBe(true);
    expect(tokenForms.some((f) => f.client_secret === secrets.dynamicsSecretOk)).toBe(true);
    expect(tokenForms.some((f) => f.password === secrets.dynamicsPasswordBad)).toBe(true);
    expect(world.marketo.calls.filter((c) => c.kind === 'identity').map((c) => c.query.client_secret)).toEqual(expect.arrayContaining([secrets.marketoSecretOk, secrets.marketoSecretBad]));
    const sfTokenBodies = world.salesforce.requestsTo('token').map((r) => r.body).join('\n');
    expect(sfTokenBodies).toContain(encodeURIComponent(secrets.salesforceSecretBad));
    expect(sfTokenBodies).toContain(encodeURIComponent(secrets.salesforceSecretOk));
    expect(world.alerts.requests.length).toBeGreaterThan(0);
    expect(world.alerts.requests.every((r) => r.signatureValid)).toBe(true);
  }, 150_000);

  it('collects every place an error, remediation or setting could surface', async () => {
    expect(leadIds).toHaveLength(3);
    const key = { 'x-api-key': secrets.intakeKey };
    for (const id of leadIds) {
      const s = await get(`${intakeUrl()}/v1/leads/${id}`, `intake GET /v1/leads/${id}`, key);
      expect(s.status).toBe(200);
      await cli(['status', id, '--json'], `status ${id} --json`);
      await cli(['status', id], `status ${id}`);
    }
    // The stored errors are there to be searched: every broken destination has its error and remediation.
    const first = JSON.parse(artifacts[`intake GET /v1/leads/${leadIds[0]}`]!.split('\n').slice(1).join('\n')) as Status;
    for (const [d, outcome] of Object.entries(SecretsWorld.OUTCOMES)) {
      if (outcome === 'delivered') continue;
      const r = first.deliveries[d]!;
      if (outcome === 'dead') expect(r.lastError, d).toBeTruthy();
    }
    const stats = await cli(['stats', '--json'], 'stats --json');
    expect(stats.status, stats.out).toBe(0);
    await cli(['stats'], 'stats');
    const dlq = await cli(['dlq', 'list', '--json'], 'dlq list --json');
    expect(dlq.status, dlq.out).toBe(0);
    for (const d of ['hook-reject', 'crm-reject', 'mkto-ok', 'sf-api-ok', 'hook-throttle']) expect(dlq.out, d).toContain(d);
    await cli(['dlq', 'list'], 'dlq list');

    await get(`${intakeUrl()}/metrics`, 'intake /metrics');
    await get(`http://127.0.0.1:${world.ports.worker}/metrics`, 'worker /metrics');
    await get(`${opsUrl()}/metrics`, 'ops /metrics');
    const ids = Object.keys(SecretsWorld.OUTCOMES);
    for (const path of ['/', '/dlq', '/queues/', ...ids.map((d) => `/destinations/${d}`), ...leadIds.map((l) => `/leads/${l}`),
      '/api/destinations', '/api/dlq', ...ids.map((d) => `/api/destinations/${d}`), ...leadIds.map((l) => `/api/leads/${l}`),
      ...ids.map((d) => `/queues/api/queues?activeQueue=${d}&status=latest&page=1&jobsPerPage=50`)]) {
      const r = await get(`${opsUrl()}${path}`, `ops ${path}`, opsAuth());
      expect(r.status, `ops ${path}: ${r.text.slice(0, 300)}`).toBe(200);
    }
    // The pause reason and remediation say which credential to fix (without showing it).
    expect(artifacts['ops /api/destinations/table-badkey']).toMatch(/AccountKey/);
    expect(artifacts['ops /api/destinations/crm-badsecret']).toMatch(/AADSTS7000215/);
    // Without the password: the 401 answers must not echo anything either.
    await get(`${opsUrl()}/api/destinations`, 'ops /api/destinations without auth');

    // Everything under the prefix in Redis: lead records, timelines, dead letters, pause state, BullMQ jobs and events.
    artifacts.redis = await dumpRedis(relay!);
    expect(artifacts.redis).toContain('AADSTS');
    // The alert posts (signed with the alerts secret).
    expect(world.alerts.requests.length).toBeGreaterThan(0);
    artifacts['alert posts'] = world.alerts.requests.map((r) => `${JSON.stringify(r.headers)}\n${r.rawBody}`).join('\n');
  }, 120_000);

  it('stops the processes and keeps everything they wrote', async () => {
    for (const p of processes) {
      const ended = await p.stop(15_000);
      expect({ process: p.name, ...ended }).toMatchObject({ process: p.name, code: 0, killed: false });
      artifacts[`${p.name} process output`] = p.outputTail;
    }
    // The debug level was on: intake logged the parsed lead (customer data allowed at debug).
    const intakeLines = logLines(artifacts['intake process output']!);
    expect(intakeLines.some((l) => l.level === 20 && l.raw.includes(customers.email))).toBe(true);
  }, 60_000);

  it('finds no secret anywhere', () => {
    // SECRETS_ARTIFACTS_DIR=/some/dir keeps what was searched, for a look by hand.
    const keep = process.env.SECRETS_ARTIFACTS_DIR;
    if (keep) {
      mkdirSync(keep, { recursive: true });
      for (const [name, text] of Object.entries(artifacts)) writeFileSync(join(keep, `${name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 120)}.txt`), text);
    }
    expect(Object.keys(artifacts).length).toBeGreaterThan(60);
    const leaks = findLeaks(artifacts, secrets.needles);
    expect(leaks.map((l) => `${l.needle} in ${l.artifact}: …${l.excerpt}…`)).toEqual([]);
  });

  it('logs no customer data below debug level', () => {
    const pii = [customers.email, customers.rejectedEmail, customers.lastName];
    const found: string[] = [];
    for (const name of ['intake', 'worker', 'ops']) {
      for (const line of logLines(artifacts[`${name} process output`] ?? '')) {
        if (line.level !== undefined && line.level < 30) continue;
        for (const v of pii) if (line.raw.includes(v)) found.push(`${name}: ${line.raw.slice(0, 600)}`);
      }
    }
    expect(found).toEqual([]);
  });
});

/** Log lines with their pino level (undefined for a line that is not pino JSON: treated as above debug). */
function logLines(output: string): { level?: number; raw: string }[] {
  return output.split('\n').filter((l) => l.trim()).map((raw) => {
    try {
      return { level: (JSON.parse(raw) as { level?: number }).level, raw };
    } catch {
      return { raw };
    }
  });
}

/** Every key under the config's prefix with its value, whatever the type. */
async function dumpRedis(r: Relay): Promise<string> {
  const redis = r.redis;
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `{${r.config.redis.prefix}}*`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) {
      const type = await redis.type(k);
      let value: unknown;
      if (type === 'string') value = await redis.get(k);
      else if (type === 'hash') value = await redis.hgetall(k);
      else if (type === 'list') value = await redis.lrange(k, 0, -1);
      else if (type === 'set') value = await redis.smembers(k);
      else if (type === 'zset') value = await redis.zrange(k, 0, -1, 'WITHSCORES');
      else if (type === 'stream') value = await redis.xrange(k, '-', '+');
      out.push(`${k} (${type}): ${JSON.stringify(value)}`);
    }
  } while (cursor !== '0');
  return out.join('\n');
}
