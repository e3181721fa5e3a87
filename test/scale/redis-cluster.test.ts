import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig, type LeadRelayConfig } from '@leadrelay/config';
import { parseJsonLead, type Lead } from '@leadrelay/core';
import { DeliveryService } from '@leadrelay/delivery';
import { buildIntakeServer } from '@leadrelay/intake';
import { LeadRelayMetrics, silentLogger } from '@leadrelay/observability';
import { Relay, type LeadStatus } from '@leadrelay/queue';
import { DestinationFakes, type ExpectedLead } from '../helpers/destination-fakes.js';
import { LEADRELAY_CLI } from '../helpers/leadrelay-process.js';
import { RedisCluster, redisCliOnPath } from '../helpers/redis-cluster.js';
import { readTlsCert } from '../helpers/tls-cert.js';
import { uniquePrefix } from '../helpers/unique.js';

const DESTINATIONS = ['hook', 'table', 'crm', 'mkto'];
const API_KEY = 'cluster-intake-key-0123456789';
const haveRedisCli = redisCliOnPath() !== undefined;
if (!haveRedisCli) console.warn('SKIPPED the Redis Cluster test: redis-cli is not on PATH (apt-get install redis-tools, or redis-server)');

const run = promisify(execFile);

/**
 * The whole pipeline on a Redis Cluster of three masters (`redis.cluster`): accept (Relay and intake),
 * deliver to all four destination kinds, status, pause/resume and dead-letter/replay through the CLI,
 * throttling. Keys are spread: each destination's under `{prefix:<destination>}`, each lead's under
 * `{prefix:lead-<shard>}`, so every master holds some of them and no command spans two slots.
 */
describe.skipIf(!haveRedisCli)('Redis Cluster (three masters)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leadrelay-cluster-'));
  const configPath = join(dir, 'leadrelay.yaml');
  const prefix = uniquePrefix('cl');
  let cluster: RedisCluster | undefined;
  let fakes: DestinationFakes | undefined;
  let config: LeadRelayConfig;
  let relay: Relay | undefined;
  let service: DeliveryService | undefined;
  let seq = 0;
  const tag = uniquePrefix('c');

  function lead(): Lead {
    const n = ++seq;
    const r = parseJsonLead({
      UserDetails: { FirstName: 'Hedy', LastName: `Cluster${n}`, Email: `cluster${n}.${tag}@contoso.com`, Company: 'Contoso', Country: 'US' },
      LeadSource: 'AzureMarketplace', ActionCode: 'INS', OfferTitle: 'Widget',
    }, { query: { offer: 'contoso.widget' } });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.lead;
  }

  async function waitFor(leadId: string, destination: string, states: string[], timeoutMs = 30_000): Promise<LeadStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await relay!.status(leadId);
      if (s && states.includes(s.deliveries[destination]?.state ?? '')) return s;
      if (Date.now() > deadline) throw new Error(`${leadId} at ${destination} never reached ${states.join('/')}: ${JSON.stringify(s?.deliveries[destination])}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Runs the real CLI against the cluster config and parses its --json output. */
  async function cli(...args: string[]): Promise<unknown> {
    const { stdout } = await run(process.execPath, [LEADRELAY_CLI, ...args, '--config', configPath, '--json'], { timeout: 30_000 });
    return stdout.trim() ? JSON.parse(stdout) : undefined;
  }

  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
    fakes = await DestinationFakes.start({ azuriteConnectionString: inject('azuriteConnectionString'), tls: readTlsCert(inject('tlsCert')) });
    const yaml = `
redis:
  prefix: ${prefix}
  cluster: [${cluster.urls.map((u) => `"${u}"`).join(', ')}]
intake: { apiKeys: ["${API_KEY}"] }
worker: { metricsPort: 0, shutdownTimeout: 2s }
retry: { attempts: 3, initialDelay: 100ms, maxDelay: 500ms }
destinations:
${fakes.destinationsYaml()}`;
    writeFileSync(configPath, yaml);
    config = parseConfig(yaml, configPath, { env: {} });
    relay = new Relay(config);
    service = new DeliveryService({ config, logger: silentLogger, metrics: new LeadRelayMetrics({ defaultMetrics: false }), lockDurationMs: 5000 });
    await service.start();
  }, 120_000);

  afterAll(async () => {
    await service?.stop(2000).catch(() => undefined);
    await relay?.close();
    await fakes?.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('accepts leads (Relay and intake) and delivers each to every destination once', async () => {
    const leads = Array.from({ length: 60 }, lead);
    const expected: ExpectedLead[] = [];
    for (const l of leads) {
      const a = await relay!.accept(l, { clientId: false });
      expect(a).toMatchObject({ duplicate: false, destinations: DESTINATIONS });
      expected.push({ id: a.id, email: l.customer.email!, toMarketo: true });
    }
    // The same lead again: one lead, nothing queued twice.
    expect(await relay!.accept(leads[0]!, { clientId: false })).toMatchObject({ id: expected[0]!.id, duplicate: true });

    // Through the intake HTTP API, whose own Relay also runs on the cluster.
    const intake = buildIntakeServer({ config, logger: silentLogger });
    try {
      const body = { UserDetails: { FirstName: 'Hedy', LastName: 'Intake', Email: `intake.${tag}@contoso.com`, Company: 'Contoso' }, LeadSource: 'AzureMarketplace', ActionCode: 'INS' };
      const r = await intake.inject({ method: 'POST', url: '/v1/leads?offer=contoso.widget', headers: { 'x-api-key': API_KEY }, payload: body });
      expect(r.statusCode).toBe(202);
      const id = (r.json() as { id: string }).id;
      expected.push({ id, email: body.UserDetails.Email, toMarketo: true });
      for (const d of DESTINATIONS) await waitFor(id, d, ['delivered']);
      const status = await intake.inject({ method: 'GET', url: `/v1/leads/${id}`, headers: { 'x-api-key': API_KEY } });
      expect(status.statusCode).toBe(200);
      expect(Object.values((status.json() as LeadStatus).deliveries).map((d) => d.state)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
    } finally {
      await intake.close();
    }

    for (const e of expected) for (const d of DESTINATIONS) await waitFor(e.id, d, ['delivered']);
    const s = await relay!.status(expected[1]!.id);
    expect(s!.timeline.map((t) => `${t.destination}:${t.outcome}`).sort()).toEqual(DESTINATIONS.map((d) => `${d}:delivered`).sort());
    expect(s!.deliveries.crm!.remoteId).toMatch(/^[0-9a-f-]{36}$/);

    const i = await fakes!.inspect(expected);
    expect(i.table).toMatchObject({ entities: expected.length, uniqueRowKeys: expected.length, missing: [] });
    expect(i.dynamics).toMatchObject({ records: expected.length, missing: [] });
    expect(i.marketo).toMatchObject({ records: expected.length, duplicates: [], missing: [] });
    expect(i.webhook).toMatchObject({ acceptedIds: expected.length, missing: [], leadsWithSeveralIds: [] });

    const stats = await cli('stats') as { destination: string; delivered: number; dead: number; state: string }[];
    expect(stats.map((x) => [x.destination, x.state, x.delivered, x.dead])).toEqual(DESTINATIONS.map((d) => [d, 'running', expected.length, 0]));
    const viaCli = await cli('status', expected[0]!.id) as LeadStatus;
    expect(Object.keys(viaCli.deliveries)).toEqual(DESTINATIONS);
  }, 120_000);

  it('pause holds one destination (leads keep queueing, shown as paused) and resume delivers', async () => {
    expect(await cli('pause', 'hook')).toEqual({ destination: 'hook', state: 'paused' });
    const { id } = await relay!.accept(lead(), { clientId: false });
    for (const d of ['table', 'crm', 'mkto']) await waitFor(id, d, ['delivered']);
    await waitFor(id, 'hook', ['paused']);
    const hook = (await relay!.allStats()).find((x) => x.destination === 'hook')!;
    expect(hook).toMatchObject({ state: 'paused', waiting: 1 });
    expect(await cli('resume', 'hook')).toEqual({ destination: 'hook', state: 'running' });
    const s = await waitFor(id, 'hook', ['delivered']);
    expect(s.deliveries.hook!.attempts).toBe(1);
  }, 60_000);

  it('dead-letters a permanent failure with the destination error, and dlq replay delivers it', async () => {
    fakes!.receiver.failNext(1, 422, { body: { error: 'unprocessable', message: 'Email domain not allowed here' } });
    const { id } = await relay!.accept(lead(), { clientId: false });
    const dead = await waitFor(id, 'hook', ['dead']);
    expect(dead.deliveries.hook!.lastError).toMatch(/422/);
    const listed = await cli('dlq', 'list') as { leadId: string; destination: string; lastError: string }[];
    expect(listed).toEqual([expect.objectContaining({ leadId: id, destination: 'hook' })]);
    expect(listed[0]!.lastError).toMatch(/Email domain not allowed/);

    await cli('dlq', 'replay', '--id', id);
    const s = await waitFor(id, 'hook', ['delivered']);
    expect(s.timeline.filter((t) => t.destination === 'hook').map((t) => t.outcome)).toEqual(['dead', 'delivered']);
    expect(await relay!.deadLetters({})).toEqual([]);
  }, 60_000);

  it('a dead lead re-posted after its record expired is delivered once more, not left queued (the re-post backstop in the spread layout)', async () => {
    fakes!.receiver.failNext(1, 422, { body: { error: 'unprocessable' } });
    const l = lead();
    const { id } = await relay!.accept(l, { clientId: true, only: ['hook'] });
    await waitFor(id, 'hook', ['dead']);
    // What leads.retention does to the record, while the dead job stays (deadLetters.retention, no sweep yet).
    await relay!.redis.del(relay!.keys.lead(id), relay!.keys.timeline(id));
    expect(await relay!.status(id)).toBeUndefined();
    expect(await relay!.deadLetters({ destination: 'hook', leadId: id })).toHaveLength(1);

    const again = await relay!.accept(l, { clientId: true, only: ['hook'] });
    expect(again).toMatchObject({ id, duplicate: false });
    const s = await waitFor(id, 'hook', ['delivered']);
    expect(s.deliveries.hook!.state).toBe('delivered');
    expect(await relay!.deadLetters({ destination: 'hook', leadId: id })).toEqual([]);
  }, 60_000);

  it('waits out a 429 with Retry-After without using an attempt', async () => {
    fakes!.receiver.failNext(2, 429, { headers: { 'Retry-After': '1' } });
    const { id } = await relay!.accept(lead(), { clientId: false });
    const s = await waitFor(id, 'hook', ['delivered']);
    expect(s.timeline.filter((t) => t.destination === 'hook').map((t) => t.outcome)).toEqual(['throttled', 'throttled', 'delivered']);
    expect(s.deliveries.hook!.attempts).toBe(1);
  }, 60_000);

  it('finds a person\'s leads across lead shards and masters (leads --email, paged) and erases them (erase --email)', async () => {
    const email = `Erase.${tag}@Contoso.com`;
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = parseJsonLead({ UserDetails: { FirstName: 'Hedy', LastName: `Erase${i}${tag}`, Email: email }, LeadSource: 'AzureMarketplace', ActionCode: 'INS' }, { query: { offer: 'contoso.erase' } });
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      ids.push((await relay!.accept(r.lead, { clientId: false, only: ['hook'] })).id);
    }
    for (const id of ids) await waitFor(id, 'hook', ['delivered']);
    expect(new Set(ids.map((id) => relay!.keys.leadIndexTag(id))).size, 'lead shards').toBeGreaterThan(1);

    const found: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await cli('leads', '--email', email.toLowerCase(), '--limit', '4', ...(cursor ? ['--cursor', cursor] : [])) as { leads: { id: string; customer: { email: string } }[]; cursor?: string };
      expect(page.leads.every((l) => !l.customer.email.includes(tag))).toBe(true);
      found.push(...page.leads.map((l) => l.id));
      cursor = page.cursor;
    } while (cursor);
    expect(found.sort()).toEqual([...ids].sort());
    expect((await cli('leads', '--offer', 'contoso.erase', '--state', 'delivered') as { leads: unknown[] }).leads).toHaveLength(6);

    const report = await cli('erase', '--email', email) as { leadIds: string[]; erased: { leads: number; jobs: { completed: number }; indexEntries: number } };
    expect(report.erased).toMatchObject({ leads: 6, jobs: { completed: 6 }, indexEntries: 6 });
    for (const id of ids) {
      const hash = await relay!.redis.hgetall(relay!.keys.lead(id));
      expect(JSON.stringify(hash)).not.toContain(tag);
      expect(hash.erasedAt).toBeDefined();
      expect(await relay!.queue('hook').getJob(relay!.keys.jobId('hook', id))).toBeUndefined();
    }
    expect(await cli('leads', '--email', email)).toEqual({ leads: [] });
  }, 60_000);

  it('spreads the keys over every master: one hash tag per destination and per lead shard', () => {
    // One snapshot of every key on every master (the cluster is this file's alone).
    const byNode = cluster!.keysByNode();
    const all = byNode.flat();
    expect(all.filter((k) => !k.startsWith(`{${prefix}:`)), 'keys outside the prefix').toEqual([]);
    const tags = new Set(all.map((k) => k.slice(0, k.indexOf('}') + 1)));
    for (const d of DESTINATIONS) expect(tags, d).toContain(`{${prefix}:${d}}`);
    expect([...tags].filter((t) => /:lead-\d+\}$/.test(t)).length, 'lead shards in use').toBeGreaterThan(20);
    // Each master holds keys, and lead hashes: no master is left out.
    for (const keys of byNode) expect(keys.filter((k) => k.includes('}:lead:')).length).toBeGreaterThan(0);
    expect(all.length).toBeGreaterThan(100);
  });
});
