import { Cluster, type Redis } from 'ioredis';
import { ErrorCodes } from '@leadrelay/core';
import type { RedisClient } from './redis-connection.js';

/** `intake.durability` parsed: what a 202 waits for. */
export type DurabilityMode = { kind: 'none' } | { kind: 'aof' } | { kind: 'replicas'; replicas: number };

export function parseDurability(text: string): DurabilityMode {
  if (text === 'aof') return { kind: 'aof' };
  const m = /^replicas:(\d+)$/.exec(text);
  if (m) return { kind: 'replicas', replicas: Number(m[1]) };
  return { kind: 'none' };
}

/** The Redis server cannot give the durability the config asks for: intake refuses to start. */
export class DurabilityUnsupportedError extends Error {
  readonly code = ErrorCodes.DURABILITY_UNSUPPORTED;
  constructor(message: string) {
    super(message);
    this.name = 'DurabilityUnsupportedError';
  }
}

/** The outcome of waiting for a write to be durable. */
export type DurabilityWait = { ok: true } | { ok: false; wanted: number; acknowledged: number; what: 'replicas' | 'aof' };

/** WAITAOF arrived in Redis 7.2. */
function hasWaitAof(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 7 || (major === 7 && minor >= 2);
}

/**
 * Makes a 202 mean what `intake.durability` says. WAIT and WAITAOF count the writes sent earlier on the
 * same connection, so they run on the connection the accept used (the Relay's; on a Redis Cluster, on
 * every master's connection, as a lead's keys and its queues' keys are on several masters).
 */
export class IntakeDurability {
  private waitAof = false;
  private verified?: Promise<void>;

  constructor(private readonly redis: RedisClient, readonly mode: DurabilityMode, private readonly timeoutMs: number) {}

  /**
   * Checks the server can keep the promise: for `aof`, WAITAOF (Redis >= 7.2) with appendonly yes, or
   * else appendonly yes and appendfsync always (every write fsynced before Redis answers). Throws
   * DurabilityUnsupportedError naming the setting to change. Cached once it passed.
   */
  verify(): Promise<void> {
    if (this.mode.kind !== 'aof') return Promise.resolve();
    this.verified ??= this.check().catch((e: unknown) => {
      this.verified = undefined;
      throw e;
    });
    return this.verified;
  }

  private async check(): Promise<void> {
    let everyWaitAof = true;
    for (const node of this.nodes()) {
      const info = await node.info('server');
      const version = /redis_version:([0-9.]+)/.exec(info)?.[1] ?? '0';
      const [, appendonly] = (await node.config('GET', 'appendonly')) as string[];
      const [, appendfsync] = (await node.config('GET', 'appendfsync')) as string[];
      const where = `Redis ${version} at ${node.options.host ?? '?'}:${node.options.port ?? '?'}`;
      if (appendonly !== 'yes') {
        throw new DurabilityUnsupportedError(`intake.durability is aof, but ${where} has appendonly ${appendonly ?? '?'}: set appendonly yes${hasWaitAof(version) ? '' : ' and appendfsync always'} in redis.conf (or CONFIG SET), or set intake.durability: none`);
      }
      if (hasWaitAof(version)) continue;
      everyWaitAof = false;
      if (appendfsync !== 'always') {
        throw new DurabilityUnsupportedError(`intake.durability is aof, but ${where} has no WAITAOF (Redis 7.2+) and appendfsync ${appendfsync ?? '?'}: set appendfsync always (every write fsynced before Redis answers), upgrade to Redis 7.2+, or set intake.durability: none`);
      }
    }
    this.waitAof = everyWaitAof;
  }

  /** Waits until the writes sent so far are durable as configured, at most `durabilityTimeout`. */
  async wait(): Promise<DurabilityWait> {
    if (this.mode.kind === 'none') return { ok: true };
    if (this.mode.kind === 'aof') {
      await this.verify();
      // Without WAITAOF, appendfsync always already fsynced every write before Redis answered it.
      if (!this.waitAof) return { ok: true };
      const replies = await Promise.all(this.nodes().map((n) => n.call('WAITAOF', '1', '0', String(this.timeoutMs)) as Promise<[number, number]>));
      const local = Math.min(...replies.map((r) => Number(r[0])));
      return local >= 1 ? { ok: true } : { ok: false, wanted: 1, acknowledged: local, what: 'aof' };
    }
    const wanted = this.mode.replicas;
    const replies = await Promise.all(this.nodes().map((n) => n.call('WAIT', String(wanted), String(this.timeoutMs)) as Promise<number>));
    const acknowledged = Math.min(...replies.map(Number));
    return acknowledged >= wanted ? { ok: true } : { ok: false, wanted, acknowledged, what: 'replicas' };
  }

  private nodes(): Redis[] {
    return this.redis instanceof Cluster ? this.redis.nodes('master') : [this.redis];
  }
}
