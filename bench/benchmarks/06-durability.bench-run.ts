import autocannon from 'autocannon';
import { describe, expect, it } from 'vitest';
import { Relay } from '@leadrelay/queue';
import { RedisServer, redisServerOnPath } from '../../test/helpers/redis-server.js';
import { API_KEY, benchConfig, freePort, marketplaceBody, startCli, uniquePrefix } from '../lib/bench-env.js';
import { BenchReport, fmt, median } from '../lib/bench-report.js';

/**
 * Benchmark 6 — the cost of `intake.durability: aof`. The same `leadrelay intake` (one webhook destination,
 * no worker) against a redis-server of its own, twice: `none` on a Redis without persistence, and `aof` on
 * one with appendonly yes + appendfsync always (on Redis 7.0 that is what aof requires; 7.2+ adds WAITAOF).
 * Each side gets a fresh server; sides alternate over rounds. The figures are the price of a 202 that is
 * on disk: accepted req/s and p99, and their ratios (aof / none). No target: the cost depends on the disk.
 */
const CONNECTIONS = 20;
const DURATION_S = Number(process.env.BENCH_DURABILITY_DURATION_S ?? 5);
const ROUNDS = Number(process.env.BENCH_DURABILITY_ROUNDS ?? 2);

interface Run { mode: 'none' | 'aof'; perSec: number; p99: number; accepted: number; queued: number; failed: number }

async function run(mode: Run['mode'], n: number): Promise<Run> {
  const server = await RedisServer.start({ appendonly: mode === 'aof' });
  const port = await freePort();
  const cfg = benchConfig({
    redisUrl: server.url, prefix: uniquePrefix('bd'), intakePort: port, intake: `durability: ${mode}`,
    destinations: '  - { id: hook, type: https, url: "http://127.0.0.1:9/hook" }',
  });
  const child = startCli(`leadrelay intake (${mode})`, 'intake', cfg);
  const relay = new Relay(cfg.config);
  let seq = 0;
  try {
    await child.waitForHttp(`http://127.0.0.1:${port}/readyz`, 20_000);
    const r = await autocannon({
      url: `http://127.0.0.1:${port}`, connections: CONNECTIONS, duration: DURATION_S, timeout: 10,
      requests: [{
        method: 'POST', path: '/v1/leads', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
        setupRequest: (req) => {
          const body = marketplaceBody(++seq);
          (body.UserDetails as Record<string, string>).Email = `durable.${mode}.${n}.${seq}@contoso.com`;
          return { ...req, body: JSON.stringify(body) };
        },
      }],
    });
    child.assertRunning();
    const counts = await relay.queue('hook').getJobCounts('waiting', 'prioritized', 'delayed');
    return { mode, perSec: r['2xx'] / r.duration, p99: r.latency.p99, accepted: r['2xx'], queued: Object.values(counts).reduce((a, b) => a + b, 0), failed: r.non2xx + r.errors + r.timeouts };
  } finally {
    await child.stop();
    await relay.close();
    cfg.remove();
    await server.destroy();
  }
}

describe.skipIf(!redisServerOnPath())('intake durability', () => {
  it(`intake.durability none vs aof, ${CONNECTIONS} connections, ${DURATION_S} s, ${ROUNDS} round(s)`, async () => {
    const report = new BenchReport('6-durability', `POST /v1/leads with intake.durability none vs aof (appendfsync always), ${CONNECTIONS} connections, ${DURATION_S} s`);
    const runs: Run[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const mode of ['none', 'aof'] as const) {
        const r = await run(mode, round);
        runs.push(r);
        console.log(`  round ${round} ${mode.padEnd(4)}: ${fmt(r.perSec)} accepted/s, p99 ${r.p99} ms; ${r.accepted} accepted, ${r.queued} jobs in Redis, ${r.failed} failed`);
      }
    }
    const none = runs.filter((r) => r.mode === 'none');
    const aof = runs.filter((r) => r.mode === 'aof');
    report.figure('none: accepted req/s (median)', median(none.map((r) => r.perSec)), 'req/s', { headline: true });
    report.figure('aof: accepted req/s (median)', median(aof.map((r) => r.perSec)), 'req/s', { headline: true });
    report.figure('none: p99 latency (median)', median(none.map((r) => r.p99)), 'ms');
    report.figure('aof: p99 latency (median)', median(aof.map((r) => r.p99)), 'ms', { headline: true });
    report.figure('aof / none throughput (median of rounds)', median(aof.map((a, i) => a.perSec / none[i]!.perSec)), 'x', { headline: true });
    for (const r of runs) report.integrity(`${r.mode}: every 2xx left a job in Redis`, r.queued >= r.accepted, `${r.accepted} accepted, ${r.queued} jobs`);
    report.assertIntegrity();
    expect(runs.every((r) => r.accepted > 0)).toBe(true);
  });
});
