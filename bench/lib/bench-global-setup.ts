import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { resolveTestRedis } from '../../test/helpers/redis-server.js';
import { TestTlsCertificate, type TlsCertPaths } from '../../test/helpers/tls-cert.js';
import { formatSummary, RESULTS_DIR_ENV, type BenchResult } from './bench-report.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    /** Self-signed cert for 127.0.0.1/localhost, trusted by every process started after setup (NODE_EXTRA_CA_CERTS). */
    tlsCert: TlsCertPaths;
  }
}

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * One Redis (resolved like the tests: $REDIS_URL, 127.0.0.1:6379, or a redis-server of our own) and one
 * TLS certificate for the whole run. Each benchmark writes its figures to a run directory; teardown
 * prints the summary table and writes bench/results/latest.json.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const startedAt = new Date();
  // Before any fork starts: forks (and the workers they spawn) inherit it; Node reads it only at start.
  const tls = new TestTlsCertificate();
  tls.trustInChildProcesses();
  project.provide('tlsCert', { certPath: tls.certPath, keyPath: tls.keyPath });
  const redis = await resolveTestRedis();
  project.provide('redisUrl', redis.url);
  const runDir = mkdtempSync(join(tmpdir(), 'leadrelay-bench-'));
  process.env[RESULTS_DIR_ENV] = runDir;

  return async () => {
    const results: BenchResult[] = readdirSync(runDir).filter((f) => f.endsWith('.json')).sort()
      .map((f) => JSON.parse(readFileSync(join(runDir, f), 'utf8')) as BenchResult);
    const outDir = join(BENCH_DIR, 'results');
    mkdirSync(outDir, { recursive: true });
    const report = {
      startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryMiB: Math.round(totalmem() / 2 ** 20), node: process.version, redis: redis.url },
      benchmarks: results,
    };
    writeFileSync(join(outDir, 'latest.json'), JSON.stringify(report, null, 2) + '\n');
    console.log(`\n${formatSummary(results)}\n(written to bench/results/latest.json)\n`);
    rmSync(runDir, { recursive: true, force: true });
    await redis.server?.destroy();
    tls.remove();
  };
}
