import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DelayedError, Queue, UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type LeadRelayConfig } from '@leadrelay/config';
import { parseJsonLead, type Lead } from '@leadrelay/core';
import { DeliveryService } from '@leadrelay/delivery';
import { LeadRelayMetrics, silentLogger } from '@leadrelay/observability';
import { createRedisConnection, LeadAudit, Relay, type MigrationReport } from '@leadrelay/queue';
import { WebhookReceiver } from '../fakes/webhook-receiver/index.js';
import { LEADRELAY_CLI } from '../helpers/leadrelay-process.js';
import { RedisCluster, redisCliOnPath } from '../helpers/redis-cluster.js';
import { uniquePrefix } from '../helpers/unique.js';

const haveRedisCli = redisCliOnPath() !== undefined;
const run = promisify(execFile);
const LEADS = 20;

/**
 * Upgrading a Redis Cluster deployment from the one-slot key layout: leads queued, delayed and dead
 * under the old names (written by a Relay in the `single-slot` layout and real BullMQ workers), then
 * `leadrelay migrate-keys`, then the current worker delivers every lead once to every destination.
 */
describe.skipIf(!haveRedisCli)('leadrelay migrate-keys (three-master cluster)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leadrelay-migrate-'));
  const configPath = join(dir, 'leadrelay.yaml');
  const prefix = uniquePrefix('mk');
  let cluster: RedisCluster | undefined;
  let receiver: WebhookReceiver | undefined;
  let config: LeadRelayConfig;
  let old: Relay | undefined;
  let relay: Relay | undefined;
  let service: DeliveryService | undefined;

  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
    receiver = await WebhookReceiver.start();
    const yaml = `
redis:
  prefix: ${prefix}
  cluster: [${cluster.urls.map((u) => `"${u}"`).join(', ')}]
intake: { apiKeys: ["migrate-intake-key-0123456789"] }
worker: { metricsPort: 0, shutdownTimeout: 2s }
destinations:
${['a', 'b', 'c'].map((d) => `  - { id: ${d}, type: https, url: "${receiver!.url(`/${d}`)}" }`).join('\n')}
`;
    writeFileSync(configPath, yaml);
    config = parseConfig(yaml, configPath, { env: {} });
    old = new Relay(config, { keyLayout: 'single-slot' });
    relay = new Relay(config);
  }, 120_000);

  afterAll(async () => {
    await service?.stop(2000).catch(() => undefined);
    await old?.close();
    await relay?.close();
    await receiver?.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  async function migrate(...args: string[]): Promise<MigrationReport> {
    const { stdout } = await run(process.execPath, [LEADRELAY_CLI, 'migrate-keys', ...args, '--config', configPath, '--json'], { timeout: 60_000 });
    return JSON.parse(stdout) as MigrationReport;
  }

  /** A real BullMQ worker of the old layout that handles every job of one queue with `handle`, until `done`. */
  async function drainOld(queue: string, handle: (job: import('bullmq').Job, token: string) => Promise<void>, done: () => Promise<boolean>): Promise<void> {
    const connection = createRedisConnection(config.redis, 'blocking');
    const w = new Worker(queue, async (job, token) => handle(job, token!), { connection, prefix: old!.keys.bullPrefix(queue), concurrency: 4 });
    w.on('error', () => undefined);
    try {
      const deadline = Date.now() + 30_000;
      while (!(await done())) {
        if (Date.now() > deadline) throw new Error(`old worker of ${queue} did not finish`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await w.close();
      connection.disconnect();
    }
  }

  it('moves waiting, delayed and dead jobs, lead records and counters; after it every lead is delivered once', async () => {
    const tag = uniquePrefix('m');
    const leads: Lead[] = Array.from({ length: LEADS }, (_, n) => {
      const r = parseJsonLead({ source: 'SPZA', action: 'INS', offer: 'contoso.app', customer: { email: `m${n}.${tag}@contoso.com` } });
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      return r.lead;
    });
    for (const l of leads) expect(await old!.accept(l, { clientId: false })).toMatchObject({ duplicate: false, destinations: ['a', 'b', 'c'] });
    // The old key names, literally: one slot for all.
    expect(await old!.redis.exists(`{${prefix}}:lead:${leads[0]!.id}`)).toBe(1);
    expect(await old!.redis.llen(`{${prefix}}:q:a:wait`)).toBe(LEADS);
    // b: every job put back as delayed by 1.5 s; c: every job dead (failed for good), with its record and counter.
    await drainOld('b', async (job, token) => { await job.moveToDelayed(Date.now() + 1500, token); throw new DelayedError(); },
      async () => (await old!.queue('b').getDelayedCount()) === LEADS);
    await drainOld('c', async (job) => {
      await old!.leads.recordAttempt(job.data.lead.id, 'c', { state: 'dead', attempts: 1, lastError: 'HTTP 400' });
      throw new UnrecoverableError('HTTP 400');
    }, async () => (await old!.queue('c').getFailedCount()) === LEADS);
    expect(await old!.redis.get(`{${prefix}}:count:c:dead`)).toBe(String(LEADS));
    // A referral write-back waiting in the sources' own queue must move too (it is work, like a delivery).
    const writeBacks = new Queue('_writeback', { connection: old!.redis, prefix: old!.keys.bullPrefix('_writeback') });
    await writeBacks.add('write-back', { leadId: leads[0]!.id, referralId: 'ref-1' }, { jobId: `wb.${leads[0]!.id}` });
    await writeBacks.close();

    const dry = await migrate('--dry-run');
    expect(dry).toMatchObject({ dryRun: true, to: 'spread', jobs: { a: LEADS, b: LEADS, c: LEADS, _writeback: 1 } });
    expect(dry.leadKeys).toBeGreaterThanOrEqual(2 * LEADS);
    expect(await old!.redis.exists(`{${prefix}}:lead:${leads[0]!.id}`)).toBe(1);

    const moved = await migrate();
    expect(moved).toMatchObject({ dryRun: false, jobs: { a: LEADS, b: LEADS, c: LEADS }, leadKeys: dry.leadKeys, destinationKeys: dry.destinationKeys });
    // Run again: nothing left under the old names.
    expect(await migrate()).toMatchObject({ leadKeys: 0, destinationKeys: 0, jobs: {} });
    const leftovers = cluster!.keysByNode().flat().filter((k) => k.startsWith(`{${prefix}}:`));
    expect(leftovers).toEqual([]);
    // The lead index moved with them, into each lead's shard: found by email and by offer.
    expect((await relay!.findLeads({ email: leads[0]!.customer.email! })).leads.map((l) => l.id)).toEqual([leads[0]!.id]);
    expect((await relay!.findLeads({ offer: 'contoso.*', limit: 1000 })).leads).toHaveLength(LEADS);
    expect(await relay!.redis.get(relay!.keys.counter('c', 'dead'))).toBe(String(LEADS));
    const movedWriteBacks = new Queue('_writeback', { connection: relay!.redis, prefix: relay!.keys.bullPrefix('_writeback') });
    expect((await movedWriteBacks.getWaiting()).map((j) => j.id)).toEqual([`wb.${leads[0]!.id}`]);
    await movedWriteBacks.close();

    const audit = new LeadAudit(relay!.redis, relay!.keys, { configured: ['a', 'b', 'c'] });
    const report = await audit.run().finally(() => audit.close());
    expect(report).toMatchObject({ leads: LEADS, balanced: true });
    expect(report.destinations.map((d) => [d.destination, d.accepted, d.waiting + d.delayed, d.dead])).toEqual([['a', LEADS, LEADS, 0], ['b', LEADS, LEADS, 0], ['c', LEADS, 0, LEADS]]);
    expect((await relay!.deadLetters({ destination: 'c' })).map((x) => x.leadId).sort()).toEqual(leads.map((l) => l.id).sort());

    service = new DeliveryService({ config, logger: silentLogger, metrics: new LeadRelayMetrics({ defaultMetrics: false }), lockDurationMs: 5000 });
    await service.start();
    expect(await relay!.replay({ destination: 'c' })).toBe(LEADS);
    const deadline = Date.now() + 60_000;
    while (receiver!.acceptedIds().length < 3 * LEADS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(receiver!.acceptedIds()).toHaveLength(3 * LEADS);
    expect(receiver!.duplicateIds()).toEqual([]);
    for (const l of leads) {
      const s = await relay!.status(l.id);
      expect(Object.values(s!.deliveries).map((d) => d.state)).toEqual(['delivered', 'delivered', 'delivered']);
    }
  }, 180_000);
});
