import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Relay } from '@leadrelay/queue';
import { FakeMarketo, MARKETO_REAL_LIMITS } from '../../test/fakes/marketo/index.js';
import { benchConfig, deleteKeys, freePort, marketplaceLead, uniquePrefix } from '../lib/bench-env.js';
import { BenchReport, fmt } from '../lib/bench-report.js';
import { drainWithWorker } from '../lib/worker-drain.js';

/**
 * Benchmark 3 — Marketo. A FakeMarketo enforcing Marketo's real limits (100 calls / 20 s rolling,
 * 10 concurrent calls, 300 records per call) and `leadrelay worker` in its own process.
 *   3a default settings (batchSize 300, concurrency 5, rateLimit 80/20s, batchWait 1s): 3,000 leads.
 *      Target: drained within 2× the minimum the limits and batchWait allow.
 *   3b two worker processes with settings deliberately above the limits (batchSize 25 → 120 calls,
 *      concurrency 8 each → 16 concurrent calls, rateLimit 500/20s) and 200 ms per call, so Marketo
 *      answers 606 and 615: they must only delay delivery, never fail a lead.
 * Integrity (both): every lead delivered, none dead, one Marketo record per lead (no duplicates).
 */
const LEADS = Number(process.env.BENCH_MARKETO_LEADS ?? 3000);
const WINDOW_MS = MARKETO_REAL_LIMITS.windowMs;

let fake: FakeMarketo;

beforeAll(async () => {
  fake = await FakeMarketo.start({ limits: MARKETO_REAL_LIMITS });
});

afterAll(async () => {
  await fake?.stop();
});

interface Scenario {
  id: string;
  title: string;
  /** YAML of the destination's own settings (beside id/type/urls/credentials). */
  settings: string;
  batchSize: number;
  batchWaitMs: number;
  /** Our rateLimit (calls per window). */
  ourRate: number;
  concurrency: number;
  timeoutMs: number;
  /** Worker processes sharing the destination (scale-out). */
  workers: number;
  /** Fake Marketo's answer time: calls must overlap for the 10-concurrent limit (615) to bite. */
  latencyMs: number;
  /** Compare the time with 2× the minimum (3a) or only check correctness under throttling (3b). */
  timed: boolean;
}

const SCENARIOS: Scenario[] = [
  { id: '3a-marketo-default', title: `Marketo, default settings, ${LEADS} leads, real limits`, settings: '', batchSize: 300, batchWaitMs: 1000, ourRate: 80, concurrency: 5, workers: 1, latencyMs: 0, timeoutMs: 120_000, timed: true },
  {
    id: '3b-marketo-over-limits', title: `Marketo, 2 workers with settings above the real limits (606/615 expected), ${LEADS} leads`,
    settings: ', batchSize: 25, concurrency: 8, rateLimit: { max: 500, per: 20s }', batchSize: 25, batchWaitMs: 1000, ourRate: 500, concurrency: 8, workers: 2, latencyMs: 200, timeoutMs: 150_000, timed: false,
  },
];

/**
 * The least time the limits allow for `calls` calls: Marketo (100 / 20 s rolling) and our own rateLimit
 * admit min(100, ours) calls per window, so every further window-full costs a whole window; the
 * trailing partial batch waits batchWait. A pre-loaded queue fills every batch at once, so the floor is
 * one batchWait (counted for the batch that closes the run) — network time is on top.
 */
function minimumMs(s: Scenario, calls: number): { ms: number; explain: string } {
  const perWindow = Math.min(MARKETO_REAL_LIMITS.callsPerWindow, s.ourRate);
  const extraWindows = Math.floor((calls - 1) / perWindow);
  const ms = extraWindows * WINDOW_MS + s.batchWaitMs;
  return {
    ms,
    explain: `${calls} calls of <= ${s.batchSize} records; <= ${perWindow} calls per ${WINDOW_MS / 1000} s window => ${extraWindows} extra window(s) x ${WINDOW_MS / 1000} s `
      + `+ batchWait ${s.batchWaitMs / 1000} s = ${fmt(ms / 1000)} s; a pre-loaded queue fills every batch at once, so a run may beat the batchWait floor`,
  };
}

function countCodes(): Record<string, number> {
  const codes: Record<string, number> = {};
  for (const c of fake.restCalls) {
    const errors = (c.response as { errors?: { code: string }[] } | undefined)?.errors ?? [];
    for (const e of errors) codes[e.code] = (codes[e.code] ?? 0) + 1;
  }
  return codes;
}

describe('marketo', () => {
  for (const s of SCENARIOS) {
    it(s.title, async () => {
      const redisUrl = inject('redisUrl');
      const report = new BenchReport(s.id, s.title);
      fake.resetCalls();
      fake.resetRateWindow();
      fake.setLatency(s.latencyMs);
      const storedBefore = fake.uniqueLeadCount;
      const prefix = uniquePrefix('bm');
      const workers = await Promise.all(Array.from({ length: s.workers }, async () => {
        const metricsPort = await freePort();
        const cfg = benchConfig({
          redisUrl, prefix, metricsPort,
          destinations: `  - { id: mkto, type: marketo, restUrl: "${fake.url}", clientId: ${fake.clientId}, clientSecret: ${fake.clientSecret}${s.settings} }`,
        });
        return { cfg, metricsPort };
      }));
      const cfg = workers[0]!.cfg;
      const relay = new Relay(cfg.config);
      try {
        const d = cfg.config.destinations[0]!;
        report.figure('settings', `${s.workers} worker process(es); batchSize ${s.batchSize}, concurrency ${d.concurrency}, rateLimit ${d.rateLimit?.max}/${(d.rateLimit?.per ?? 0) / 1000}s, batchWait ${s.batchWaitMs / 1000}s; fake answers in ${s.latencyMs} ms`);
        const leads = Array.from({ length: LEADS }, () => marketplaceLead());
        const r = await drainWithWorker({
          relay, destination: 'mkto', leads, workers, timeoutMs: s.timeoutMs,
          onProgress: (st, ms) => console.log(`    ${fmt(ms / 1000, 1)} s: ${st.delivered} delivered, ${st.dead} dead, ${fake.stats.restCalls} calls (${fake.stats.acceptedCalls} accepted)${st.state === 'throttled' ? ', throttled' : ''}`),
        });
        const codes = countCodes();
        const callsNeeded = Math.ceil(LEADS / s.batchSize);
        report.figure('elapsed (resume -> all delivered)', r.drainMs / 1000, 's', { headline: true });
        report.figure('REST calls made', fake.stats.restCalls, '', { headline: true });
        report.figure('REST calls accepted (counted by Marketo)', fake.stats.acceptedCalls);
        report.figure('calls needed (leads / batchSize)', callsNeeded);
        report.figure('Identity (token) calls', fake.stats.identityCalls);
        report.figure('606 answers (rate limit)', codes['606'] ?? 0, '', { headline: true });
        report.figure('615 answers (concurrency limit)', codes['615'] ?? 0, '', { headline: true });
        report.figure('most calls in flight at Marketo', fake.stats.maxInFlight);
        report.figure('worker CPU per lead', r.cpuMsPerLead, 'ms');
        report.figure('worker peak RSS', r.peakRssMiB, 'MiB');
        const min = minimumMs(s, callsNeeded);
        report.figure('minimum the limits allow', `${fmt(min.ms / 1000)} s (${min.explain})`);
        if (s.timed) report.atMost('elapsed / minimum', r.drainMs / min.ms, 2, 'x');
        else report.figure('elapsed / minimum (no target: settings above the limits)', r.drainMs / min.ms, 'x');
        const stored = fake.uniqueLeadCount - storedBefore;
        report.integrity('every lead delivered', !r.timedOut && r.stats.delivered === LEADS, `${r.stats.delivered}/${LEADS} delivered${r.timedOut ? ' (timed out)' : ''}`);
        report.integrity('none dead (606/615 only delay)', r.stats.dead === 0, `${r.stats.dead} dead; ${(codes['606'] ?? 0) + (codes['615'] ?? 0)} 606/615 answers`);
        report.integrity('one Marketo record per lead', stored === LEADS && fake.duplicates('email').length === 0, `${stored} records for ${LEADS} leads, ${fake.duplicates('email').length} duplicated emails`);
        report.assertIntegrity();
        expect(r.stats.delivered).toBe(LEADS);
      } finally {
        await relay.close();
        for (const w of workers) w.cfg.remove();
        await deleteKeys(redisUrl, `{${cfg.prefix}}*`);
      }
    });
  }
});
