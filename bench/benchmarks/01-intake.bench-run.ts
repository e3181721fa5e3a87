import autocannon, { type AutocannonResult } from 'autocannon';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { Relay } from '@leadrelay/queue';
import { API_KEY, benchConfig, defaultDeliveryAttempts, deleteKeys, freePort, marketplaceBody, redisCpuReader, startBaseline, startCli, uniquePrefix } from '../lib/bench-env.js';
import { BenchReport, fmt, mean, median } from '../lib/bench-report.js';
import type { NodeChild } from '../lib/node-child.js';

/**
 * Benchmark 1 — intake. 50 keep-alive connections post unique Microsoft-format leads to
 * POST /v1/leads for 10 s (after a 2 s warm-up), against:
 *   ours:     `leadrelay intake` (built CLI, own process) with one webhook destination, no worker;
 *   baseline: a Fastify handler doing one BullMQ `queue.add` per request (bench/children/baseline-intake.mjs).
 * The sides run one after the other, alternating (baseline, ours, baseline, ours…), each in a fresh process
 * on a fresh Redis prefix. Targets (median over rounds of each round's ratio): ours ≥ 0.8× baseline
 * accepted req/s, p99 ≤ 1.5× baseline p99.
 * Integrity: every 2xx answer left a job in Redis.
 */
const CONNECTIONS = 50;
const WARMUP_S = Number(process.env.BENCH_INTAKE_WARMUP_S ?? 2);
const DURATION_S = Number(process.env.BENCH_INTAKE_DURATION_S ?? 10);
const ROUNDS = Number(process.env.BENCH_INTAKE_ROUNDS ?? 3);
const DESTINATION = 'hook';

interface SideRun {
  side: 'ours' | 'baseline';
  /** 2xx answers per second in the measured window. */
  acceptedPerSec: number;
  p50: number;
  p99: number;
  /** Server CPU time (user + system) per accepted lead in the measured window. */
  cpuMsPerLead: number;
  /** redis-server CPU per accepted lead in the measured window (shared Redis: indicative). */
  redisCpuMsPerLead: number;
  avg: number;
  /** 2xx answers in warm-up + measurement. */
  accepted: number;
  failed: number;
  statusCodes: Record<string, number>;
  /** Jobs found in Redis afterwards. */
  queued: number;
  peakRssMiB: number;
}

let seq = 0;
let redisCpu: () => number = () => NaN;
const tag = `${process.pid}x${Date.now().toString(36)}`;

/** Posts a fresh lead per request (unique email, so each is a new lead, not the duplicate path). */
function load(url: string, seconds: number, apiKey?: string): Promise<AutocannonResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(apiKey ? { 'x-api-key': apiKey } : {}) };
  return autocannon({
    url, connections: CONNECTIONS, duration: seconds, timeout: 10,
    requests: [{
      method: 'POST', path: '/v1/leads', headers,
      setupRequest: (req) => {
        const body = marketplaceBody(++seq);
        (body.UserDetails as Record<string, string>).Email = `lead.${tag}.${seq}@contoso.com`;
        return { ...req, body: JSON.stringify(body) };
      },
    }],
  });
}

function summarise(side: SideRun['side'], warm: AutocannonResult, main: AutocannonResult, cpu: { server: number; redis: number }, queued: number, child: NodeChild): SideRun {
  const codes: Record<string, number> = {};
  for (const r of [warm, main]) for (const [code, { count }] of Object.entries(r.statusCodeStats)) codes[code] = (codes[code] ?? 0) + count;
  return {
    side,
    acceptedPerSec: main['2xx'] / main.duration,
    p50: main.latency.p50, p99: main.latency.p99, avg: main.latency.average, cpuMsPerLead: (1000 * cpu.server) / main['2xx'], redisCpuMsPerLead: (1000 * cpu.redis) / main['2xx'],
    accepted: warm['2xx'] + main['2xx'],
    failed: warm.non2xx + main.non2xx + warm.errors + main.errors + warm.timeouts + main.timeouts,
    statusCodes: codes, queued, peakRssMiB: child.peak.peakMiB,
  };
}

async function runOurs(redisUrl: string): Promise<SideRun> {
  const port = await freePort();
  const cfg = benchConfig({
    redisUrl, prefix: uniquePrefix('bi'), intakePort: port,
    // Never delivered (no worker runs): only intake's accept path is measured.
    destinations: `  - { id: ${DESTINATION}, type: https, url: "http://127.0.0.1:9/hook" }`,
  });
  const child = startCli('leadrelay intake', 'intake', cfg);
  const relay = new Relay(cfg.config);
  try {
    await child.waitForHttp(`http://127.0.0.1:${port}/readyz`, 20_000);
    const warm = await load(`http://127.0.0.1:${port}`, WARMUP_S, API_KEY);
    const cpu = child.cpuSeconds();
    const redis = redisCpu();
    const main = await load(`http://127.0.0.1:${port}`, DURATION_S, API_KEY);
    const cpuSeconds = { server: child.cpuSeconds() - cpu, redis: redisCpu() - redis };
    child.assertRunning();
    const counts = await relay.queue(DESTINATION).getJobCounts('waiting', 'prioritized', 'delayed');
    return summarise('ours', warm, main, cpuSeconds, Object.values(counts).reduce((a, b) => a + b, 0), child);
  } finally {
    await child.stop();
    await relay.close();
    cfg.remove();
    await deleteKeys(redisUrl, `{${cfg.prefix}}*`);
  }
}

async function runBaseline(redisUrl: string): Promise<SideRun> {
  const port = await freePort();
  const prefix = uniquePrefix('bb');
  const child = startBaseline('baseline intake', 'baseline-intake.mjs', { REDIS_URL: redisUrl, BULL_PREFIX: prefix, QUEUE: DESTINATION, PORT: String(port), ATTEMPTS: String(defaultDeliveryAttempts()) });
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const queue = new Queue(DESTINATION, { connection, prefix });
  try {
    await child.waitForHttp(`http://127.0.0.1:${port}/readyz`, 20_000);
    const warm = await load(`http://127.0.0.1:${port}`, WARMUP_S);
    const cpu = child.cpuSeconds();
    const redis = redisCpu();
    const main = await load(`http://127.0.0.1:${port}`, DURATION_S);
    const cpuSeconds = { server: child.cpuSeconds() - cpu, redis: redisCpu() - redis };
    child.assertRunning();
    const counts = await queue.getJobCounts('waiting', 'prioritized', 'delayed');
    return summarise('baseline', warm, main, cpuSeconds, Object.values(counts).reduce((a, b) => a + b, 0), child);
  } finally {
    await child.stop();
    await queue.close();
    connection.disconnect();
    await deleteKeys(redisUrl, `${prefix}:*`);
  }
}


describe('intake', () => {
  it(`${CONNECTIONS} connections, ${DURATION_S} s: leadrelay intake vs one queue.add per request`, async () => {
    const redisUrl = inject('redisUrl');
    redisCpu = await redisCpuReader(redisUrl);
    const report = new BenchReport('1-intake', `POST /v1/leads, ${CONNECTIONS} keep-alive connections, ${DURATION_S} s (after ${WARMUP_S} s warm-up), ${ROUNDS} alternating round(s)`);
    const runs: SideRun[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const run of [runBaseline, runOurs]) {
        const r = await run(redisUrl);
        runs.push(r);
        console.log(`  round ${round} ${r.side.padEnd(8)}: ${fmt(r.acceptedPerSec)} accepted/s, latency p50 ${r.p50} ms, p99 ${r.p99} ms, avg ${fmt(r.avg)} ms; server CPU ${fmt(r.cpuMsPerLead, 3)} ms/lead, redis-server CPU ${fmt(r.redisCpuMsPerLead, 3)} ms/lead; `
          + `${r.accepted} accepted, ${r.queued} jobs in Redis, ${r.failed} failed; peak RSS ${fmt(r.peakRssMiB, 1)} MiB; status ${JSON.stringify(r.statusCodes)}`);
      }
    }
    const ours = runs.filter((r) => r.side === 'ours');
    const base = runs.filter((r) => r.side === 'baseline');
    // Each round's sides ran back to back, so their ratio is the least affected by load drifting on the
    // (shared) machine; the median over rounds is the figure the targets judge.
    const rpsRatios = ours.map((o, i) => o.acceptedPerSec / base[i]!.acceptedPerSec);
    const p99Ratios = ours.map((o, i) => o.p99 / base[i]!.p99);
    report.figure('ours accepted req/s (mean)', mean(ours.map((r) => r.acceptedPerSec)), 'req/s', { headline: true });
    report.figure('baseline accepted req/s (mean)', mean(base.map((r) => r.acceptedPerSec)), 'req/s', { headline: true });
    report.figure('ours p99 latency (mean)', mean(ours.map((r) => r.p99)), 'ms', { headline: true });
    report.figure('baseline p99 latency (mean)', mean(base.map((r) => r.p99)), 'ms', { headline: true });
    report.figure('ours p50 latency (mean)', mean(ours.map((r) => r.p50)), 'ms');
    report.figure('baseline p50 latency (mean)', mean(base.map((r) => r.p50)), 'ms');
    report.figure('ours intake CPU per lead (mean)', mean(ours.map((r) => r.cpuMsPerLead)), 'ms', { headline: true });
    report.figure('baseline intake CPU per lead (mean)', mean(base.map((r) => r.cpuMsPerLead)), 'ms', { headline: true });
    report.figure('ours redis-server CPU per lead (mean, shared Redis)', mean(ours.map((r) => r.redisCpuMsPerLead)), 'ms');
    report.figure('baseline redis-server CPU per lead (mean, shared Redis)', mean(base.map((r) => r.redisCpuMsPerLead)), 'ms');
    report.figure('ours intake peak RSS', Math.max(...ours.map((r) => r.peakRssMiB)), 'MiB');
    report.figure('throughput ratio per round', rpsRatios.map((r) => fmt(r)).join(', '), 'x');
    report.figure('p99 ratio per round', p99Ratios.map((r) => fmt(r)).join(', '), 'x');
    // CPU per lead moves least with the machine's other load: the steadiest comparison of the two servers.
    report.figure('server CPU per lead ratio ours/baseline (median of rounds)', median(ours.map((o, i) => o.cpuMsPerLead / base[i]!.cpuMsPerLead)), 'x', { headline: true });
    report.atLeast('throughput ratio ours/baseline (median of rounds)', median(rpsRatios), 0.8, 'x');
    report.atMost('p99 ratio ours/baseline (median of rounds)', median(p99Ratios), 1.5, 'x');
    for (const side of [base, ours]) {
      const accepted = side.reduce((n, r) => n + r.accepted, 0);
      const queued = side.reduce((n, r) => n + r.queued, 0);
      report.integrity(`${side[0]!.side}: every 2xx left a job in Redis`, side.every((r) => r.queued >= r.accepted), `${accepted} accepted, ${queued} jobs over ${side.length} rounds`);
    }
    const failed = runs.reduce((s, r) => s + r.failed, 0);
    if (failed > 0) report.note(`${failed} request(s) got no 2xx (non-2xx, errors or timeouts); see status codes above`);
    report.assertIntegrity();
    expect(ours.every((r) => r.accepted > 0)).toBe(true);
  });
});
