import { Writable } from 'node:stream';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildIntakeServer } from '@leadrelay/intake';
import { parseConfig, type LeadRelayConfig } from '@leadrelay/config';
import { createLogger } from '@leadrelay/observability';
import { Relay } from '@leadrelay/queue';
import { uniquePrefix } from '../helpers/index.js';

export const FUZZ_KEY = 'fuzz-intake-key-5c1e9b7a3d';
export const FUZZ_MAX_BODY = 16_384;
export const DESTINATIONS = ['all', 'ins', 'contoso'] as const;

/** Keeps the error-level lines a logger writes (a 5xx or an unexpected failure logs one). */
class ErrorLines extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      try {
        if ((JSON.parse(line) as { level?: number }).level! >= 50) this.lines.push(line);
      } catch {
        this.lines.push(line);
      }
    }
    done();
  }
}

export interface Sent {
  response: LightMyRequestResponse;
  /** Jobs in every destination queue before and after the request. */
  jobsBefore: number;
  jobsAfter: number;
}

/**
 * A real intake (buildIntakeServer) on the test Redis under a fresh prefix, driven with `inject`, and
 * a ledger of what it accepted: every request is bounded in time and the queues are counted around it.
 */
export class IntakeUnderTest {
  readonly config: LeadRelayConfig;
  readonly relay: Relay;
  readonly app: FastifyInstance;
  private readonly errors = new ErrorLines();
  /** Accepted lead id → destinations intake named for it. */
  readonly accepted = new Map<string, string[]>();
  requests = 0;

  constructor(redisUrl: string, private readonly timeoutMs = 15_000) {
    this.config = parseConfig(`
redis: { url: "${redisUrl}", prefix: ${uniquePrefix('fuzz')} }
intake:
  apiKeys: ["${FUZZ_KEY}"]
  maxBodyBytes: ${FUZZ_MAX_BODY}
  dedupeWindow: 1h
destinations:
  - { id: all, type: https, url: "https://127.0.0.1:9/all" }
  - { id: ins, type: https, url: "https://127.0.0.1:9/ins", match: { actions: [INS] } }
  - { id: contoso, type: https, url: "https://127.0.0.1:9/contoso", match: { offers: ["contoso.*"], testLeads: false } }
`, 'fuzz.yaml', { env: {} });
    this.relay = new Relay(this.config);
    this.app = buildIntakeServer({ config: this.config, relay: this.relay, logger: createLogger({ level: 'info', destination: this.errors }) });
  }

  get prefix(): string {
    return this.config.redis.prefix;
  }

  /** Error-level log lines so far (there must be none: Redis is up and bad input is the client's problem). */
  get errorLines(): readonly string[] {
    return this.errors.lines;
  }

  async totalJobs(): Promise<number> {
    let n = 0;
    for (const d of DESTINATIONS) n += Object.values(await this.relay.queue(d).getJobCounts()).reduce((a, b) => a + b, 0);
    return n;
  }

  /** One request through inject, failing if intake takes longer than the time limit (a hang). */
  async send(options: InjectOptions): Promise<Sent> {
    this.requests++;
    const jobsBefore = await this.totalJobs();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`intake did not answer ${options.method} ${String(options.url).slice(0, 200)} within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      const response = await Promise.race([this.app.inject(options), timeout]);
      const jobsAfter = await this.totalJobs();
      return { response, jobsBefore, jobsAfter };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Lead ids with a status record under the prefix (SCAN, so it never blocks the shared Redis). */
  async storedLeadIds(): Promise<Set<string>> {
    const root = `{${this.prefix}}:lead:`;
    const ids = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await this.relay.redis.scan(cursor, 'MATCH', `${root}*`, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) ids.add(k.slice(root.length));
    } while (cursor !== '0');
    return ids;
  }

  /** Every key under the prefix (SCAN). */
  async keys(): Promise<string[]> {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.relay.redis.scan(cursor, 'MATCH', `{${this.prefix}}:*`, 'COUNT', 1000);
      cursor = next;
      out.push(...keys);
    } while (cursor !== '0');
    return out;
  }

  /** A string key's value (null when absent). */
  get(key: string): Promise<string | null> {
    return this.relay.redis.get(key);
  }

  async close(): Promise<void> {
    await this.app.close();
    await this.relay.close();
  }
}
