import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { DeliveryService } from '@leadrelay/delivery';
import { LeadRelayMetrics, silentLogger } from '@leadrelay/observability';
import { Relay, scanKeys } from '@leadrelay/queue';
import { WebhookReceiver } from '../../test/fakes/webhook-receiver/index.js';
import { benchConfig, defaultDeliveryAttempts, deleteKeys, mapLimit, marketplaceLead, pollUntil, uniquePrefix } from '../lib/bench-env.js';
import { BenchReport, fmt } from '../lib/bench-report.js';

/**
 * Benchmark 7 — Redis bytes per lead. LEADS leads for two webhook destinations, in each state a publisher
 * sizes Redis for: backlog (accepted, no worker yet), steady (delivered; records, timelines and the
 * completed jobs BullMQ keeps), dead (every delivery dead-lettered after a permanent 422). Bytes are
 * `MEMORY USAGE` summed over every key of the run's prefix, divided by the leads. Baseline, same run:
 * the same leads as bare BullMQ jobs (one `queue.add` per destination, LeadRelay's default attempts and
 * removeOnComplete), waiting and then completed by a no-op Worker: what a hand-rolled relay keeps.
 * No target: the figures feed the README's sizing table.
 */
const LEADS = Number(process.env.BENCH_MEMORY_LEADS ?? 2000);
const DESTINATIONS = ['crm', 'table'] as const;

async function bytesUnder(redis: Redis, pattern: string): Promise<{ bytes: number; keys: number }> {
  let bytes = 0;
  let keys = 0;
  for await (const batch of scanKeys(redis, pattern)) {
    const pipeline = redis.pipeline();
    for (const key of batch) pipeline.memory('USAGE', key, 'SAMPLES', '0');
    for (const [, n] of (await pipeline.exec()) ?? []) bytes += Number(n ?? 0);
    keys += batch.length;
  }
  return { bytes, keys };
}

interface Side { backlog: number; steady: number; dead?: number }

async function runOurs(redisUrl: string, redis: Redis, receiver: WebhookReceiver, failing: WebhookReceiver): Promise<Side> {
  const measure = async (prefix: string) => (await bytesUnder(redis, `{${prefix}}*`)).bytes / LEADS;
  const run = async (url: string, until: 'delivered' | 'dead') => {
    const prefix = uniquePrefix('bm');
    const cfg = benchConfig({ redisUrl, prefix, destinations: DESTINATIONS.map((d) => `  - { id: ${d}, type: https, url: "${url}/${d}" }`).join('\n') });
    const relay = new Relay(cfg.config);
    const service = new DeliveryService({ config: cfg.config, logger: silentLogger, metrics: new LeadRelayMetrics({ defaultMetrics: false }) });
    try {
      await mapLimit(Array.from({ length: LEADS }, () => marketplaceLead()), 32, (lead) => relay.accept(lead, { clientId: false }));
      const backlog = await measure(prefix);
      await service.start();
      const done = await pollUntil(async () => {
        const stats = await relay.allStats();
        return stats.every((s) => (until === 'delivered' ? s.delivered : s.dead) >= LEADS);
      }, 120_000, 250);
      expect(done, `every lead ${until} at both destinations`).toBe(true);
      await service.stop(5000);
      return { backlog, after: await measure(prefix) };
    } finally {
      await service.stop(5000).catch(() => undefined);
      await relay.close();
      cfg.remove();
      await deleteKeys(redisUrl, `{${prefix}}*`);
    }
  };
  const delivered = await run(receiver.url(''), 'delivered');
  const dead = await run(failing.url(''), 'dead');
  return { backlog: delivered.backlog, steady: delivered.after, dead: dead.after };
}

async function runBaseline(redisUrl: string, redis: Redis): Promise<Side> {
  const prefix = uniquePrefix('bmb');
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queues = DESTINATIONS.map((d) => new Queue(d, { connection, prefix }));
  const opts = { attempts: defaultDeliveryAttempts(), backoff: { type: 'exponential', delay: 10_000 }, removeOnComplete: { age: 3600, count: 5000 }, removeOnFail: false };
  const workers: Worker[] = [];
  try {
    await mapLimit(Array.from({ length: LEADS }, () => marketplaceLead()), 32, (lead) => Promise.all(queues.map((q) => q.add('deliver', { lead }, { ...opts, jobId: `${q.name}.${lead.id}` }))));
    const backlog = (await bytesUnder(redis, `${prefix}:*`)).bytes / LEADS;
    workers.push(...DESTINATIONS.map((d) => new Worker(d, async () => undefined, { connection, prefix, concurrency: 16 })));
    const done = await pollUntil(async () => (await Promise.all(queues.map((q) => q.getCompletedCount()))).every((n) => n >= LEADS), 120_000, 250);
    expect(done, 'every baseline job completed').toBe(true);
    await Promise.all(workers.map((w) => w.close()));
    return { backlog, steady: (await bytesUnder(redis, `${prefix}:*`)).bytes / LEADS };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await Promise.all(queues.map((q) => q.close()));
    connection.disconnect();
    await deleteKeys(redisUrl, `${prefix}:*`);
  }
}

describe('memory', () => {
  it(`Redis bytes per lead, ${LEADS} leads for ${DESTINATIONS.length} destinations: backlog, delivered, dead`, async () => {
    const redisUrl = inject('redisUrl');
    const redis = new Redis(redisUrl);
    const receiver = await WebhookReceiver.start({ keepRequests: false });
    const failing = await WebhookReceiver.start({ keepRequests: false, defaultReply: { status: 422, body: { error: 'email is not valid' } } });
    const report = new BenchReport('7-memory', `Redis bytes per lead (MEMORY USAGE over every key), ${LEADS} leads, ${DESTINATIONS.length} webhook destinations`);
    try {
      const base = await runBaseline(redisUrl, redis);
      const ours = await runOurs(redisUrl, redis, receiver, failing);
      console.log(`  ours: backlog ${fmt(ours.backlog, 0)} B, delivered ${fmt(ours.steady, 0)} B, dead ${fmt(ours.dead!, 0)} B per lead; baseline: waiting ${fmt(base.backlog, 0)} B, completed ${fmt(base.steady, 0)} B per lead`);
      report.figure('ours: backlog (accepted, queued) per lead', Math.round(ours.backlog), 'B', { headline: true });
      report.figure('ours: steady (delivered) per lead', Math.round(ours.steady), 'B', { headline: true });
      report.figure('ours: dead (dead-lettered at both) per lead', Math.round(ours.dead!), 'B', { headline: true });
      report.figure('baseline: waiting jobs per lead', Math.round(base.backlog), 'B');
      report.figure('baseline: completed jobs per lead', Math.round(base.steady), 'B');
      report.figure('backlog ratio ours/baseline', ours.backlog / base.backlog, 'x');
      report.figure('steady ratio ours/baseline', ours.steady / base.steady, 'x');
      report.integrity('every lead measured in each state', ours.backlog > 0 && ours.steady > 0 && ours.dead! > 0, `${LEADS} leads per state`);
      report.assertIntegrity();
    } finally {
      redis.disconnect();
      await receiver.stop();
      await failing.stop();
    }
  });
});
