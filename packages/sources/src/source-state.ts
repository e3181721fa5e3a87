import { randomUUID } from 'node:crypto';
import type { RedisClient } from '@leadrelay/queue';
import { PollLock } from './poll-lock.js';

/**
 * How far a source has been read: the newest timestamp committed, and the ids seen at exactly that
 * instant, so a later poll that asks for `>= ts` skips those and takes every other row sharing it.
 */
export interface Watermark {
  /** The source's own timestamp text (Azure Table `Timestamp`, a referral's `updatedDateTime`), normalised to sort as text. */
  ts: string;
  ids: string[];
}

export interface SourcePause {
  reason: string;
  remediation: string;
  at: string;
}

/** What `stats`, metrics and the dashboard show of one source. */
export interface SourceHealth {
  source: string;
  type: string;
  state: 'running' | 'paused' | 'disabled';
  watermark?: Watermark;
  /** The newest instant up to which everything the source holds has been taken. */
  caughtUpTo?: string;
  lastPollAt?: string;
  lastSuccessAt?: string;
  lastError?: string;
  pause?: SourcePause;
  polls: number;
  failedPolls: number;
  leadsFound: number;
}

/** One source's state in Redis: a hash (watermark, pause, last poll, counters) and its poll lock. */
export class SourceState {
  private readonly hash: string;
  private readonly lockKey: string;

  /** `hash`: the source's key (KeySpace.source). */
  constructor(private readonly redis: RedisClient, hash: string, readonly sourceId: string) {
    this.hash = hash;
    this.lockKey = `${this.hash}:lock`;
  }

  /** Where the source's encrypted MSAL token cache lives (same hash slot as its state). */
  get tokenCacheKey(): string {
    return `${this.hash}:token-cache`;
  }

  async watermark(): Promise<Watermark | undefined> {
    const raw = await this.redis.hget(this.hash, 'watermark');
    return raw ? (JSON.parse(raw) as Watermark) : undefined;
  }

  /** Sets the first watermark once (`start:`), so a retried first poll starts from the same place. */
  async initWatermark(w: Watermark | null): Promise<Watermark | undefined> {
    await this.redis.hsetnx(this.hash, 'watermark', JSON.stringify(w ?? { ts: '', ids: [] }));
    return this.watermark();
  }

  /** Commits a page: only called once that page's leads are durably queued. */
  async commit(w: Watermark, caughtUpTo: string, leadsFound: number): Promise<void> {
    await this.redis.multi()
      .hset(this.hash, 'watermark', JSON.stringify(w), 'caughtUpTo', caughtUpTo)
      .hincrby(this.hash, 'leadsFound', leadsFound)
      .exec();
  }

  async caughtUp(at: string): Promise<void> {
    await this.redis.hset(this.hash, 'caughtUpTo', at);
  }

  async polled(outcome: 'ok' | 'failed', at: Date, error?: string): Promise<void> {
    const m = this.redis.multi().hset(this.hash, 'lastPollAt', at.toISOString()).hincrby(this.hash, outcome === 'ok' ? 'polls' : 'failedPolls', 1);
    if (outcome === 'ok') m.hset(this.hash, 'lastSuccessAt', at.toISOString()).hdel(this.hash, 'lastError');
    else m.hset(this.hash, 'lastError', error ?? 'poll failed');
    await m.exec();
  }

  async pause(p: SourcePause): Promise<void> {
    await this.redis.hset(this.hash, 'pause', JSON.stringify(p), 'lastError', p.reason);
  }

  async resume(): Promise<void> {
    await this.redis.hdel(this.hash, 'pause');
  }

  async paused(): Promise<SourcePause | undefined> {
    const raw = await this.redis.hget(this.hash, 'pause');
    return raw ? (JSON.parse(raw) as SourcePause) : undefined;
  }

  /** Forgets the watermark (a fresh backfill); the next poll starts from `start:` again. */
  async reset(): Promise<void> {
    await this.redis.hdel(this.hash, 'watermark', 'caughtUpTo');
  }

  async health(type: string, enabled: boolean): Promise<SourceHealth> {
    const h = await this.redis.hgetall(this.hash);
    const pause = h.pause ? (JSON.parse(h.pause) as SourcePause) : undefined;
    const watermark = h.watermark ? (JSON.parse(h.watermark) as Watermark) : undefined;
    return {
      source: this.sourceId, type, state: !enabled ? 'disabled' : pause ? 'paused' : 'running',
      ...(watermark && watermark.ts ? { watermark } : {}),
      ...(h.caughtUpTo ? { caughtUpTo: h.caughtUpTo } : {}),
      ...(h.lastPollAt ? { lastPollAt: h.lastPollAt } : {}),
      ...(h.lastSuccessAt ? { lastSuccessAt: h.lastSuccessAt } : {}),
      ...(h.lastError ? { lastError: h.lastError } : {}),
      ...(pause ? { pause } : {}),
      polls: Number(h.polls ?? 0), failedPolls: Number(h.failedPolls ?? 0), leadsFound: Number(h.leadsFound ?? 0),
    };
  }

  /** Takes the poll lock; undefined when another poll of this source holds it. */
  async lock(ttlMs: number): Promise<PollLock | undefined> {
    const token = randomUUID();
    const ok = await this.redis.set(this.lockKey, token, 'PX', ttlMs, 'NX');
    return ok === 'OK' ? new PollLock(this.redis, this.lockKey, token, ttlMs) : undefined;
  }
}
