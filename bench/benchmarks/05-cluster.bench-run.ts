import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Relay } from '@leadrelay/queue';
import { RedisCluster, redisCliOnPath } from '../../test/helpers/redis-cluster.js';
import { WebhookReceiver } from '../../test/fakes/webhook-receiver/index.js';
import { BenchConfig, deleteKeys, freePort, mapLimit, marketplaceLead, pollUntil, startCli, uniquePrefix } from '../lib/bench-env.js';
import { BenchReport, fmt, median } from '../lib/bench-report.js';
import type { NodeChild } from '../lib/node-child.js';

/**
 * Benchmark 5 — Redis Cluster spread. A local three-master cluster (started here) and the shared single
 * Redis, one after the other: `leadrelay worker` (own process) delivers to 4 https destinations (a loopback
 * WebhookReceiver) while leads are accepted with relay.accept (32 in flight). Figures: the share of
 * commands each cluster master served (INFO commandstats, reset before the run) and end-to-end throughput
 * on the cluster against one Redis. Targets: every master ≥ 20 % of the commands; cluster ≥ 1.0× one Redis.
 * Integrity: every lead delivered to every destination.
 */
const LEADS = Number(process.env.BENCH_CLUSTER_LEADS ?? 1000);
const ROUNDS = Number(process.env.BENCH_CLUSTER_ROUNDS ?? 2);
const DESTINATIONS = ['d1', 'd2', 'd3', 'd4'];
const haveCli = redisCliOnPath() !== undefined;

let receiver: WebhookReceiver;
let cluster: RedisCluster | undefined;

beforeAll(async () => {
  receiver = await WebhookReceiver.start({ keepRequests: false });
  if (haveCli) cluster = await RedisCluster.start(3);
}, 60_000);

afterAll(async () => {
  await receiver?.stop();
  await cluster?.stop();
}, 60_000);

interface Run { leadsPerSec: number; delivered: number; commandsByNode?: number[] }

function config(redisYaml: string, metricsPort: number): BenchConfig {
  return new BenchConfig(`# written by the LeadRelay benchmarks
${redisYaml}
intake: { host: 127.0.0.1, port: 0, apiKeys: ["bench-intake-key-0123456789abcdef"] }
worker: { host: 127.0.0.1, metricsPort: ${metricsPort}, shutdownTimeout: 5s }
destinations:
${DESTINATIONS.map((d) => `  - { id: ${d}, type: https, url: "${receiver.url(`/${d}`)}", concurrency: 16 }`).join('\n')}
`);
}

async function commandCalls(url: string): Promise<number> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const info = await r.info('commandstats');
    return [...info.matchAll(/calls=(\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
  } finally {
    r.disconnect();
  }
}

async function runOnce(redisYaml: string, nodes?: string[]): Promise<Run> {
  receiver.clear();
  const metricsPort = await freePort();
  const cfg = config(redisYaml, metricsPort);
  const relay = new Relay(cfg.config);
  let worker: NodeChild | undefined;
  try {
    worker = startCli('leadrelay worker', 'worker', cfg);
    await worker.waitForHttp(`http://127.0.0.1:${metricsPort}/readyz`, 30_000);
    const before = nodes ? await Promise.all(nodes.map(commandCalls)) : undefined;
    const leads = Array.from({ length: LEADS }, () => marketplaceLead());
    const started = performance.now();
    await mapLimit(leads, 32, (lead) => relay.accept(lead, { clientId: false }));
    const delivered = async () => (await Promise.all(DESTINATIONS.map((d) => relay.stats(d)))).reduce((s, x) => s + x.delivered, 0);
    let n = 0;
    await pollUntil(async () => { worker!.assertRunning(); n = await delivered(); return n >= LEADS * DESTINATIONS.length; }, 120_000, 100);
    const ms = performance.now() - started;
    const after = nodes ? await Promise.all(nodes.map(commandCalls)) : undefined;
    return { leadsPerSec: LEADS / (ms / 1000), delivered: n, commandsByNode: after?.map((a, i) => a - before![i]!) };
  } finally {
    await worker?.stop();
    await relay.close();
    cfg.remove();
  }
}

describe.skipIf(!haveCli)('Redis Cluster', () => {
  it(`${LEADS} leads to ${DESTINATIONS.length} destinations: three-master cluster vs one Redis`, async () => {
    const report = new BenchReport('5-cluster', `${LEADS} leads accepted and delivered to ${DESTINATIONS.length} https destinations, a local 3-master cluster vs one Redis, ${ROUNDS} alternating round(s)`);
    const redisUrl = inject('redisUrl');
    const single: Run[] = [];
    const clustered: Run[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const prefix = uniquePrefix('bs');
      const s = await runOnce(`redis: { url: "${redisUrl}", prefix: ${prefix} }`);
      await deleteKeys(redisUrl, `{${prefix}}*`);
      single.push(s);
      const c = await runOnce(`redis:\n  prefix: ${uniquePrefix('bc')}\n  cluster: [${cluster!.urls.map((u) => `"${u}"`).join(', ')}]`, cluster!.urls);
      clustered.push(c);
      const total = c.commandsByNode!.reduce((a, b) => a + b, 0);
      console.log(`  round ${round}: one Redis ${fmt(s.leadsPerSec)} leads/s; cluster ${fmt(c.leadsPerSec)} leads/s, commands per master ${c.commandsByNode!.map((x) => `${fmt((100 * x) / total, 1)} %`).join(', ')}`);
    }
    const shares = clustered.map((c) => { const t = c.commandsByNode!.reduce((a, b) => a + b, 0); return c.commandsByNode!.map((x) => x / t); });
    const ratios = clustered.map((c, i) => c.leadsPerSec / single[i]!.leadsPerSec);
    report.figure('cluster throughput ratio per round', ratios.map((r) => fmt(r)).join(', '), 'x');
    report.figure('commands per master per round', shares.map((s) => s.map((x) => `${fmt(100 * x, 1)}%`).join('/')).join(', '), '');
    report.atLeast('smallest master share of commands (lowest over rounds)', 100 * Math.min(...shares.flat()), 20, '%');
    report.atLeast('cluster throughput / one Redis (median of rounds)', median(ratios), 1.0, 'x');
    const all = [...single, ...clustered];
    report.integrity('every lead delivered to every destination', all.every((r) => r.delivered >= LEADS * DESTINATIONS.length), `${all.map((r) => r.delivered).join(', ')} of ${LEADS * DESTINATIONS.length} per run`);
    report.assertIntegrity();
    expect(all.every((r) => r.delivered >= LEADS * DESTINATIONS.length)).toBe(true);
  });
});
