import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { parseConfig, type LeadRelayConfig } from '@leadrelay/config';
import { parseJsonLead, type Lead } from '@leadrelay/core';
import { uniquePrefix } from '../../test/helpers/unique.js';
import { freePort } from '../../test/helpers/free-port.js';
import { NodeChild, readCpuSeconds, type NodeChildOptions } from './node-child.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI_BIN = join(REPO_ROOT, 'apps/cli/bin/leadrelay.js');
export const CHILDREN_DIR = join(REPO_ROOT, 'bench/children');
export const API_KEY = 'bench-intake-key-0123456789abcdef';

export { freePort, uniquePrefix };

/** The built CLI the worker and intake children run (`npm run bench` builds first). */
export function assertBuilt(): void {
  if (!existsSync(join(REPO_ROOT, 'apps/cli/dist/main.js'))) {
    throw new Error('apps/cli/dist/main.js is missing: run `npm run build` first (`npm run bench` does).');
  }
}

/** A LeadRelay config for one benchmark: written to a temp file for a child process, parsed here for the Relay. */
export class BenchConfig {
  readonly dir = mkdtempSync(join(tmpdir(), 'leadrelay-bench-cfg-'));
  readonly file = join(this.dir, 'leadrelay.yaml');
  readonly config: LeadRelayConfig;

  constructor(readonly yaml: string) {
    this.config = parseConfig(yaml, this.file, { env: {} });
    writeFileSync(this.file, yaml);
  }

  get prefix(): string {
    return this.config.redis.prefix;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface ConfigParts {
  redisUrl: string;
  prefix: string;
  /** YAML list items under `destinations:` (indented by two spaces). */
  destinations: string;
  intakePort?: number;
  metricsPort?: number;
  /** Extra `intake:` settings, as YAML flow-map entries (e.g. `durability: aof`). */
  intake?: string;
  /** Extra top-level YAML (e.g. `retry:`). */
  extra?: string;
}

export function benchConfig(p: ConfigParts): BenchConfig {
  return new BenchConfig(`# written by the LeadRelay benchmarks
redis: { url: "${p.redisUrl}", prefix: ${p.prefix} }
intake: { host: 127.0.0.1, port: ${p.intakePort ?? 0}, apiKeys: ["${API_KEY}"]${p.intake ? `, ${p.intake}` : ''} }
worker: { host: 127.0.0.1, metricsPort: ${p.metricsPort ?? 0}, shutdownTimeout: 5s }
${p.extra ?? ''}
destinations:
${p.destinations}
`);
}

/**
 * Node flags for every child (ours and baselines alike): the runtime flags LeadRelay ships with (the
 * Dockerfile's `NODE_OPTIONS`), so processes run as they do in production, plus `BENCH_NODE_ARGS` for
 * experiments such as `--cpu-prof --cpu-prof-dir=/tmp/prof` (a profile per child, written on exit).
 */
function nodeArgs(): string[] {
  return [...shippedNodeOptions(), ...(process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)];
}

/** `ENV NODE_OPTIONS="…"` of the Dockerfile's runtime stage. */
function shippedNodeOptions(): string[] {
  const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const m = /^ENV\b.*\bNODE_OPTIONS="([^"]*)"/m.exec(dockerfile);
  return (m?.[1] ?? '').split(/\s+/).filter(Boolean);
}

/** Runs `leadrelay <command> --config <file>` from the built CLI, logging nothing (LOG_LEVEL=silent). */
export function startCli(label: string, command: 'worker' | 'intake', cfg: BenchConfig, options: NodeChildOptions = {}): NodeChild {
  assertBuilt();
  return new NodeChild(label, [...nodeArgs(), CLI_BIN, command, '--config', cfg.file], {
    ...options, cwd: REPO_ROOT, env: { LOG_LEVEL: 'silent', ...options.env },
  });
}

/** Runs one of bench/children/*.mjs (the hand-written baselines). */
/**
 * Attempts of a LeadRelay delivery job with the default retry (as many as `retry.horizon` needs): the
 * baselines store their jobs with the same, so a stored job costs the same on both sides.
 */
export function defaultDeliveryAttempts(): number {
  return parseConfig('intake: { apiKeys: ["bench-intake-key-0123456789abcdef"] }\ndestinations: [{ id: hook, type: https, url: "https://hooks.example.com/leads" }]\n', 'defaults.yaml', { env: {} }).retry.attempts;
}

export function startBaseline(label: string, script: string, env: Record<string, string>): NodeChild {
  return new NodeChild(label, [...nodeArgs(), join(CHILDREN_DIR, script)], { cwd: REPO_ROOT, env });
}

let seq = 0;
const runTag = Date.now().toString(36);

/** A Microsoft HTTPS-endpoint JSON body (intake format 2, README: Intake HTTP API) with a unique email, so each is a new lead. */
export function marketplaceBody(n = ++seq): Record<string, unknown> {
  return {
    UserDetails: {
      FirstName: 'Ada', LastName: `Lovelace${n}`, Email: `ada.${runTag}.${n}@contoso.com`, Phone: '+44 20 7946 0000',
      Country: 'GB', Company: 'Contoso', Title: 'CTO',
    },
    LeadSource: 'AzureMarketplace-INS|contoso.widget', ActionCode: 'INS', OfferTitle: 'Widget', Description: 'Benchmark lead',
  };
}

/** The same as a parsed Lead, for `relay.accept`. */
export function marketplaceLead(n?: number): Lead {
  const r = parseJsonLead(marketplaceBody(n));
  if (!r.ok) throw new Error(`benchmark lead does not parse: ${JSON.stringify(r.errors)}`);
  return r.lead;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  }));
  return out;
}

/**
 * Deletes every key matching `pattern` (a benchmark's unique prefix) so the shared Redis stays clean.
 * Bounded: stops after `maxKeys` keys or `timeoutMs`.
 */
export async function deleteKeys(redisUrl: string, pattern: string, { maxKeys = 5_000_000, timeoutMs = 60_000 } = {}): Promise<number> {
  if (!/^[^*?[\]]{4,}/.test(pattern)) throw new Error(`refusing to delete keys matching '${pattern}': it must start with a literal prefix`);
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const deadline = Date.now() + timeoutMs;
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 2000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0' && deleted < maxKeys && Date.now() < deadline);
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/**
 * CPU seconds used so far by the redis-server behind `redisUrl` when it runs on this machine (its pid from
 * INFO server), else undefined. Redis is shared with whatever else uses it, so this is indicative only.
 */
export async function redisCpuReader(redisUrl: string): Promise<() => number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const pid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
    return () => (Number.isFinite(pid) ? readCpuSeconds(pid) : undefined) ?? NaN;
  } finally {
    redis.disconnect();
  }
}

/** Polls `check` every `everyMs` until it returns true; false after `timeoutMs`. */
export async function pollUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
