import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readCompose, ROOT } from '../compose/compose-model.js';
import { RedisServer, uniquePrefix } from '../helpers/index.js';
import { planCompose, startOrder, type ComposePlan, type Endpoint, type ServicePlan } from './compose-plan.js';
import { ServiceProcess } from './service-process.js';

/**
 * docker-compose.yml run without Docker: every app service's ENTRYPOINT + command and environment
 * from the compose file and Dockerfile, started as child processes from the repository root (the
 * image's /app). redis is a redis-server with the compose command's options, azurite the test
 * Azurite; service hostnames and ports become loopback and free ports. A lead posted to intake must
 * reach the inbox (signature verified) and the Azure table, and ops must serve its probes and ask
 * for a password. Needs `npm run build` (the services run the compiled apps).
 */

const READY_MS = 90_000;

let plan: ComposePlan;
let redis: RedisServer | undefined;
const running = new Map<string, ServiceProcess>();

function azuriteEndpoint(connectionString: string): Endpoint {
  const url = new URL(/TableEndpoint=([^;]+)/.exec(connectionString)![1]!);
  return { host: url.hostname, port: Number(url.port) };
}

const portOf = (app: ServicePlan, containerPort: number): number => {
  const p = app.ports.get(containerPort);
  if (p === undefined) throw new Error(`${app.name} has no port ${containerPort}`);
  return p;
};
const app = (name: string): ServicePlan => plan.apps.find((a) => a.name === name)!;
const healthUrl = (a: ServicePlan): URL => new URL(/https?:\/\/[^'"\s)]+/.exec(a.healthcheck?.join(' ') ?? '')?.[0] ?? 'http://invalid/');

async function poll<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const logs = [...running.values()].map((p) => `--- ${p.name}:\n${p.outputTail.slice(-3000)}`).join('\n');
  throw new Error(`${what} did not happen within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}\n${logs}`);
}

describe('docker compose up, without Docker', () => {
  beforeAll(async () => {
    for (const f of ['apps/cli/dist/main.js', 'apps/inbox/dist/index.js']) {
      if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run \`npm run build\` before this test (the services run the compiled apps)`);
    }
    // Redis as compose runs it (AOF, noeviction), on a port of its own.
    const { services } = readCompose({});
    const redisCommand = services.redis?.command ?? [];
    expect(redisCommand[0]).toBe('redis-server');
    redis = await RedisServer.start({ args: redisCommand.slice(1) });
    plan = await planCompose({ redis: { host: '127.0.0.1', port: redis.port }, azurite: azuriteEndpoint(inject('azuriteConnectionString')) });

    for (const a of startOrder(plan.apps)) {
      const p = ServiceProcess.start(a.name, a.argv, { cwd: ROOT, env: a.env });
      running.set(a.name, p);
      // /readyz for the leadrelay processes; the inbox has only the probe its healthcheck calls.
      const probe = healthUrl(a);
      const isCli = a.argv[1] === 'apps/cli/bin/leadrelay.js';
      await p.waitFor(`http://127.0.0.1:${probe.port}${isCli ? '/readyz' : probe.pathname}`, READY_MS);
    }
  }, 240_000);

  afterAll(async () => {
    // Whatever happened: nothing of ours keeps running.
    await Promise.all([...running.values()].map((p) => p.stop(2000)));
    await redis?.destroy();
    if (plan) rmSync(dirname(plan.configPath), { recursive: true, force: true });
  }, 60_000);

  it('runs each app service as its container would: the image ENTRYPOINT with the compose command, and loopback for every service hostname', () => {
    expect(plan.apps.map((a) => a.name).sort()).toEqual(['inbox', 'intake', 'ops', 'worker']);
    expect(app('intake').argv).toEqual(['node', 'apps/cli/bin/leadrelay.js', 'intake']);
    expect(app('worker').argv).toEqual(['node', 'apps/cli/bin/leadrelay.js', 'worker']);
    expect(app('ops').argv).toEqual(['node', 'apps/cli/bin/leadrelay.js', 'ops']);
    expect(app('inbox').argv).toEqual(['node', 'apps/inbox/dist/index.js']);
    const names = Object.keys(plan.services).join('|');
    for (const a of plan.apps) {
      expect(a.env.NODE_ENV, a.name).toBe('production'); // the image's ENV
      for (const [k, v] of Object.entries(a.env)) {
        expect(v, `${a.name} ${k} still names a compose service`).not.toMatch(new RegExp(`(^|[/@=])(${names})(:\\d+|/|$)`));
      }
    }
    expect(app('worker').env.LEADRELAY_CONFIG).toBe(plan.configPath);
    // The copy differs from the repository's file only in the listen ports.
    const original = readFileSync(join(ROOT, 'leadrelay.yaml'), 'utf8').split('\n');
    const copy = readFileSync(plan.configPath, 'utf8').split('\n');
    expect(copy.length).toBe(original.length);
    const changed = copy.filter((line, i) => line !== original[i]).map((l) => l.trim().replace(/\d+/, 'N'));
    expect(changed.sort()).toEqual(['metricsPort: N', 'port: N', 'port: N']);
  });

  it('passes every compose healthcheck, run as compose runs it', () => {
    for (const a of plan.apps) {
      expect(a.healthcheck, `${a.name} has a healthcheck`).toBeDefined();
      const [cmd, ...args] = a.healthcheck!;
      const r = spawnSync(cmd === 'node' ? process.execPath : cmd!, args, { cwd: ROOT, env: a.env, timeout: 15_000, encoding: 'utf8' });
      expect(r.status, `${a.name} healthcheck: ${r.stderr}`).toBe(0);
    }
  }, 60_000);

  it('delivers a lead posted to intake to the inbox (signature verified) and to the Azure table', async () => {
    const intake = app('intake');
    const key = intake.env.INTAKE_API_KEY!;
    expect(key).toBe('dev-key-change-me-0123456789'); // the compose default
    const intakeUrl = `http://127.0.0.1:${portOf(intake, 8080)}`;
    const email = `jane.${uniquePrefix('c')}@fabrikam.example`;
    const offer = `contoso.${uniquePrefix('compose')}`;
    const posted = await fetch(`${intakeUrl}/v1/leads`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ source: 'AzureMarketplace', action: 'INS', offer, customer: { firstName: 'Jane', lastName: 'Doe', email, company: 'Fabrikam' } }),
      signal: AbortSignal.timeout(10_000),
    });
    const accepted = await posted.json() as { id: string; duplicate: boolean; destinations: string[] };
    expect(posted.status, JSON.stringify(accepted)).toBe(202);
    expect(accepted.destinations.sort()).toEqual(['inbox', 'table']);

    // The inbox lists it, verified against INBOX_SIGNING_SECRET.
    const inboxUrl = `http://127.0.0.1:${portOf(app('inbox'), 8081)}/`;
    const received = await poll('the lead at the inbox', 60_000, async () => {
      const list = await (await fetch(inboxUrl, { signal: AbortSignal.timeout(5000) })).json() as { leads: { verified: boolean; path: string; webhookId?: string; body: { UserDetails?: { Email?: string } } }[] };
      return list.leads.find((l) => l.body.UserDetails?.Email === email);
    });
    expect(received.verified).toBe(true);
    expect(received.path).toBe('/leads');
    expect(received.webhookId).toMatch(/^msg_/);

    // The table has the entity Microsoft's Azure Table destination would write.
    const table = TableClient.fromConnectionString(inject('azuriteConnectionString'), 'MarketplaceLeads', { allowInsecureConnection: true });
    const entity = await poll('the lead in the MarketplaceLeads table', 60_000, async () => {
      try {
        return await table.getEntity<Record<string, unknown>>(offer, accepted.id);
      } catch (e) {
        if ((e as { statusCode?: number }).statusCode === 404) return undefined;
        throw e;
      }
    });
    expect(entity.LeadSource).toBe(`AzureMarketplace-INS|${offer}`);
    expect(JSON.parse(String(entity.CustomerInfo))).toMatchObject({ Email: email, FirstName: 'Jane', Company: 'Fabrikam' });

    // And intake says so.
    const status = await poll('delivered at both destinations', 30_000, async () => {
      const s = await (await fetch(`${intakeUrl}/v1/leads/${accepted.id}`, { headers: { 'x-api-key': key } })).json() as { deliveries: Record<string, { state: string }> };
      return s.deliveries.inbox?.state === 'delivered' && s.deliveries.table?.state === 'delivered' ? s : undefined;
    });
    expect(Object.keys(status.deliveries).sort()).toEqual(['inbox', 'table']);
  }, 150_000);

  it('ops answers its probes without a password and asks for one everywhere else', async () => {
    const ops = app('ops');
    const base = `http://127.0.0.1:${portOf(ops, 3000)}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const anonymous = await fetch(`${base}/`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic/i);
    const wrong = await fetch(`${base}/`, { headers: { authorization: `Basic ${Buffer.from('ops:not-the-password').toString('base64')}` } });
    expect(wrong.status).toBe(401);
    // The compose default password (OPS_PASSWORD unset) opens the dashboard, which lists both destinations.
    const auth = `Basic ${Buffer.from(`ops:${ops.env.OPS_PASSWORD}`).toString('base64')}`;
    expect(ops.env.OPS_PASSWORD).toBe('dev-password-change-me');
    const page = await fetch(`${base}/`, { headers: { authorization: auth } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('href="/destinations/table"');
    expect(html).toContain('href="/destinations/inbox"');
    const api = await (await fetch(`${base}/api/destinations`, { headers: { authorization: auth } })).json() as { destination: string }[];
    expect(api.map((d) => d.destination).sort()).toEqual(['inbox', 'table']);
  }, 30_000);

  it('stops every service on SIGTERM (docker compose stop) with exit 0 within its stop_grace_period', async () => {
    // Reverse start order, as compose stops dependants first.
    for (const a of startOrder(plan.apps).reverse()) {
      const p = running.get(a.name)!;
      const ended = await p.stop(a.stopGraceMs);
      expect({ service: a.name, ...ended }, p.outputTail.slice(-2000)).toEqual({ service: a.name, code: 0, signal: null, killed: false });
    }
  }, 200_000);
});
