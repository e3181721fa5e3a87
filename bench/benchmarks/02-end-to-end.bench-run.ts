import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Relay } from '@leadrelay/queue';
import { WebhookReceiver } from '../../test/fakes/webhook-receiver/index.js';
import { benchConfig, defaultDeliveryAttempts, deleteKeys, freePort, mapLimit, marketplaceLead, pollUntil, redisCpuReader, startBaseline, startCli, uniquePrefix } from '../lib/bench-env.js';
import { BenchReport, fmt, mean, median } from '../lib/bench-report.js';
import type { NodeChild } from '../lib/node-child.js';

/**
 * Benchmark 2 — end to end. 5,000 leads pre-loaded into a paused queue, then drained to a local
 * WebhookReceiver (loopback HTTP) by:
 *   ours:     `leadrelay worker` (built CLI, own process): https destination, concurrency 16;
 *             leads pre-loaded with relay.accept (status records, fan-out) like intake does;
 *   baseline: a plain BullMQ Worker at concurrency 16 POSTing each job with fetch
 *             (bench/children/baseline-worker.mjs); jobs pre-loaded with queue.addBulk.
 * The queue is paused while the worker starts; the clock runs from resume until every lead was
 * answered 2xx by the receiver and every job is completed in Redis. Rounds alternate (baseline, ours, …).
 * Targets: ours ≥ 1.2× baseline throughput (median over rounds of each round's ratio); worker peak RSS
 * (VmHWM, highest of the rounds) ≤ 150 MiB. Integrity: every lead delivered, none dead.
 */
const LEADS = Number(process.env.BENCH_E2E_LEADS ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_E2E_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.BENCH_E2E_ROUNDS ?? 3);
const DRAIN_TIMEOUT_MS = 150_000;
const DESTINATION = 'hook';

interface DrainRun {
  side: 'ours' | 'baseline';
  preloadMs: number;
  /** Resume → receiver has answered 2xx for every lead. */
  deliveredMs: number;
  /** Resume → every job completed in Redis (status recorded, for ours). */
  completedMs: number;
  leadsPerSec: number;
  /** Worker CPU time (user + system) per lead during the drain. */
  cpuMsPerLead: number;
  /** redis-server CPU per lead during the drain (shared Redis: indicative). */
  redisCpuMsPerLead: number;
  delivered: number;
  duplicates: number;
  dead: number;
  /** RSS once started, before the drain: code and libraries, no load. */
  readyRssMiB: number;
  peakRssMiB: number;
  endRssMiB: number;
}

let receiver: WebhookReceiver;
let redisCpu: () => number;

beforeAll(async () => {
  receiver = await WebhookReceiver.start({ keepRequests: false });
  redisCpu = await redisCpuReader(inject('redisUrl'));
});

afterAll(async () => {
  await receiver?.stop();
});

/** Resumes the queue and waits for the drain; the timings every side reports. */
async function drain(queue: Queue, worker: NodeChild): Promise<{ deliveredMs: number; completedMs: number; cpuMsPerLead: number; redisCpuMsPerLead: number }> {
  const cpuBefore = worker.cpuSeconds();
  const redisBefore = redisCpu();
  const started = performance.now();
  await queue.resume();
  const deliveredOk = await Promise.race([
    receiver.waitForAccepted(LEADS, DRAIN_TIMEOUT_MS).then(() => true, () => false),
    // A crashed worker ends the wait at once.
    pollUntil(() => !worker.running, DRAIN_TIMEOUT_MS, 200).then(() => false),
  ]);
  const deliveredMs = performance.now() - started;
  worker.assertRunning();
  if (!deliveredOk) return { deliveredMs: NaN, completedMs: NaN, cpuMsPerLead: NaN, redisCpuMsPerLead: NaN };
  await pollUntil(async () => (await queue.getCompletedCount()) >= LEADS, 30_000, 20);
  const completedMs = performance.now() - started;
  return { deliveredMs, completedMs, cpuMsPerLead: (1000 * (worker.cpuSeconds() - cpuBefore)) / LEADS, redisCpuMsPerLead: (1000 * (redisCpu() - redisBefore)) / LEADS };
}

async function runOurs(redisUrl: string): Promise<DrainRun> {
  receiver.clear();
  const metricsPort = await freePort();
  const cfg = benchConfig({
    redisUrl, prefix: uniquePrefix('be'), metricsPort,
    destinations: `  - { id: ${DESTINATION}, type: https, url: "${receiver.url('/hook')}", concurrency: ${CONCURRENCY} }`,
  });
  const relay = new Relay(cfg.config);
  let worker: NodeChild | undefined;
  try {
    const queue = relay.queue(DESTINATION);
    await queue.pause();
    const leads = Array.from({ length: LEADS }, () => marketplaceLead());
    const t0 = performance.now();
    // Like intake under load: many accepts in flight.
    await mapLimit(leads, 32, (lead) => relay.accept(lead, { clientId: false }));
    const preloadMs = performance.now() - t0;
    worker = startCli('leadrelay worker', 'worker', cfg);
    await worker.waitForHttp(`http://127.0.0.1:${metricsPort}/readyz`, 30_000);
    const readyRssMiB = worker.sample()?.rssMiB ?? NaN;
    const { deliveredMs, completedMs, cpuMsPerLead, redisCpuMsPerLead } = await drain(queue, worker);
    const stats = await relay.stats(DESTINATION);
    worker.sample();
    return {
      side: 'ours', preloadMs, deliveredMs, completedMs, cpuMsPerLead, redisCpuMsPerLead, leadsPerSec: LEADS / (completedMs / 1000),
      delivered: receiver.acceptedIds().length, duplicates: receiver.duplicateIds().length, dead: stats.dead,
      readyRssMiB, peakRssMiB: worker.peak.peakMiB, endRssMiB: worker.last?.rssMiB ?? NaN,
    };
  } finally {
    await worker?.stop();
    await relay.close();
    cfg.remove();
    await deleteKeys(redisUrl, `{${cfg.prefix}}*`);
  }
}

async function runBaseline(redisUrl: string): Promise<DrainRun> {
  receiver.clear();
  const prefix = uniquePrefix('bw');
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const queue = new Queue(DESTINATION, { connection, prefix });
  let worker: NodeChild | undefined;
  try {
    await queue.pause();
    const leads = Array.from({ length: LEADS }, () => marketplaceLead());
    const t0 = performance.now();
    for (let i = 0; i < leads.length; i += 500) {
      await queue.addBulk(leads.slice(i, i + 500).map((lead) => ({
        name: 'deliver', data: { lead },
        opts: { jobId: `${DESTINATION}.${lead.id}`, attempts: defaultDeliveryAttempts(), removeOnComplete: { age: 3600, count: 5000 }, removeOnFail: false },
      })));
    }
    const preloadMs = performance.now() - t0;
    worker = startBaseline('baseline worker', 'baseline-worker.mjs', {
      REDIS_URL: redisUrl, BULL_PREFIX: prefix, QUEUE: DESTINATION, TARGET_URL: receiver.url('/hook'), CONCURRENCY: String(CONCURRENCY),
    });
    await worker.waitForOutput(/baseline worker ready/, 30_000);
    const readyRssMiB = worker.sample()?.rssMiB ?? NaN;
    const { deliveredMs, completedMs, cpuMsPerLead, redisCpuMsPerLead } = await drain(queue, worker);
    worker.sample();
    return {
      side: 'baseline', preloadMs, deliveredMs, completedMs, cpuMsPerLead, redisCpuMsPerLead, leadsPerSec: LEADS / (completedMs / 1000),
      delivered: receiver.acceptedIds().length, duplicates: receiver.duplicateIds().length, dead: await queue.getFailedCount(),
      readyRssMiB, peakRssMiB: worker.peak.peakMiB, endRssMiB: worker.last?.rssMiB ?? NaN,
    };
  } finally {
    await worker?.stop();
    await queue.close();
    connection.disconnect();
    await deleteKeys(redisUrl, `${prefix}:*`);
  }
}

describe('end to end', () => {
  it(`${LEADS} leads to a webhook: leadrelay worker vs a plain BullMQ worker, concurrency ${CONCURRENCY}`, async () => {
    const redisUrl = inject('redisUrl');
    const report = new BenchReport('2-end-to-end', `${LEADS} pre-loaded leads drained to a loopback webhook receiver, concurrency ${CONCURRENCY}`);
    const runs: DrainRun[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const run of [runBaseline, runOurs]) {
        const r = await run(redisUrl);
        runs.push(r);
        console.log(`  round ${round} ${r.side.padEnd(8)}: pre-load ${fmt(r.preloadMs, 0)} ms; delivered in ${fmt(r.deliveredMs, 0)} ms, all jobs completed in ${fmt(r.completedMs, 0)} ms `
          + `=> ${fmt(r.leadsPerSec)} leads/s, worker CPU ${fmt(r.cpuMsPerLead, 3)} ms/lead, redis-server CPU ${fmt(r.redisCpuMsPerLead, 3)} ms/lead; ${r.delivered} delivered, ${r.duplicates} duplicates, ${r.dead} dead; `
          + `worker RSS when ready ${fmt(r.readyRssMiB, 1)} MiB, peak ${fmt(r.peakRssMiB, 1)} MiB, at end ${fmt(r.endRssMiB, 1)} MiB`);
      }
    }
    const ours = runs.filter((r) => r.side === 'ours');
    const base = runs.filter((r) => r.side === 'baseline');
    const ratios = ours.map((o, i) => o.leadsPerSec / base[i]!.leadsPerSec);
    report.figure('ours throughput (mean)', mean(ours.map((r) => r.leadsPerSec)), 'leads/s', { headline: true });
    report.figure('baseline throughput (mean)', mean(base.map((r) => r.leadsPerSec)), 'leads/s', { headline: true });
    report.figure('ours worker CPU per lead (mean)', mean(ours.map((r) => r.cpuMsPerLead)), 'ms', { headline: true });
    report.figure('baseline worker CPU per lead (mean)', mean(base.map((r) => r.cpuMsPerLead)), 'ms', { headline: true });
    report.figure('ours redis-server CPU per lead (mean, shared Redis)', mean(ours.map((r) => r.redisCpuMsPerLead)), 'ms');
    report.figure('baseline redis-server CPU per lead (mean, shared Redis)', mean(base.map((r) => r.redisCpuMsPerLead)), 'ms');
    report.figure('ours drain time (mean)', mean(ours.map((r) => r.completedMs)), 'ms');
    report.figure('baseline drain time (mean)', mean(base.map((r) => r.completedMs)), 'ms');
    report.figure('ours pre-load (relay.accept, 32 in flight, mean)', mean(ours.map((r) => LEADS / (r.preloadMs / 1000))), 'leads/s');
    report.figure('ours worker RSS when ready (before load)', Math.max(...ours.map((r) => r.readyRssMiB)), 'MiB', { headline: true });
    report.figure('baseline worker RSS when ready (before load)', Math.max(...base.map((r) => r.readyRssMiB)), 'MiB');
    report.figure('baseline worker peak RSS', Math.max(...base.map((r) => r.peakRssMiB)), 'MiB', { headline: true });
    report.figure('throughput ratio per round', ratios.map((r) => fmt(r)).join(', '), 'x');
    // CPU per lead moves least with the machine's other load: the steadiest comparison of the two engines.
    report.figure('worker CPU per lead ratio ours/baseline (median of rounds)', median(ours.map((o, i) => o.cpuMsPerLead / base[i]!.cpuMsPerLead)), 'x', { headline: true });
    report.atLeast('throughput ratio ours/baseline (median of rounds)', median(ratios), 1.2, 'x');
    report.atMost('ours worker peak RSS (VmHWM)', Math.max(...ours.map((r) => r.peakRssMiB)), 150, 'MiB');
    for (const side of [base, ours]) {
      const name = side[0]!.side;
      const delivered = side.reduce((n, r) => n + r.delivered, 0);
      const dead = side.reduce((n, r) => n + r.dead, 0);
      const duplicates = side.reduce((n, r) => n + r.duplicates, 0);
      report.integrity(`${name}: every lead delivered`, side.every((r) => r.delivered === LEADS && Number.isFinite(r.completedMs)),
        `${delivered}/${LEADS * side.length} delivered over ${side.length} rounds${side.every((r) => Number.isFinite(r.completedMs)) ? '' : ' (a round timed out)'}`);
      report.integrity(`${name}: none dead`, dead === 0, `${dead} dead`);
      if (duplicates > 0) report.note(`${name}: ${duplicates} duplicate deliveries (at-least-once; expected 0 without crashes)`);
    }
    report.assertIntegrity();
    expect(ours.every((r) => r.delivered === LEADS)).toBe(true);
  });
});
