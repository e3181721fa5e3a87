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

/** The failed polls in a row after a poll (see SourceState.polled). */
export interface PollStreak {
  failedInRow: number;
  /** ISO-8601: the streak's first failure (after a failed poll). */
  failedSince?: string;
  /** After a successful poll that ended a streak: how long it was, and whether it had raised `source-failing`. */
  ended?: { failures: number; failingSince: string; alerted: boolean };
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

  /**
   * Records a poll's outcome and the streak of failed polls in a row (`failedInRow`, `failedSince`; a
   * successful poll ends it). Returns the streak: after a failure, its length so far; after a success, the
   * streak it ended and whether that streak had been alerted (`failingAlertedAt`, cleared here: once per streak).
   */
  async polled(outcome: 'ok' | 'failed', at: Date, error?: string): Promise<PollStreak> {
    const when = at.toISOString();
    if (outcome === 'failed') {
      const r = await this.redis.multi()
        .hset(this.hash, 'lastPollAt', when, 'lastError', error ?? 'poll failed').hincrby(this.hash, 'failedPolls', 1)
        .hincrby(this.hash, 'failedInRow', 1).hsetnx(this.hash, 'failedSince', when).hget(this.hash, 'failedSince')
        .exec();
      return { failedInRow: Number(r?.[2]?.[1] ?? 1), failedSince: String(r?.[4]?.[1] ?? when) };
    }
    const r = await this.redis.multi()
      .hget(this.hash, 'failedInRow').hget(this.hash, 'failedSince').hdel(this.hash, 'failingAlertedAt')
      .hset(this.hash, 'lastPollAt', when, 'lastSuccessAt', when).hincrby(this.hash, 'polls', 1)
      .hdel(this.hash, 'lastError', 'failedInRow', 'failedSince')
      .exec();
    const failed = Number(r?.[0]?.[1] ?? 0);
    const since = r?.[1]?.[1];
    return { failedInRow: 0, ...(failed > 0 ? { ended: { failures: failed, failingSince: String(since ?? when), alerted: Number(r?.[2]?.[1]) === 1 } } : {}) };
  }

  /** Marks the current failure streak as alerted; true only for the first caller (one `source-failing` per streak). */
  async markFailingAlerted(at: Date): Promise<boolean> {
    return (await this.redis.hsetnx(this.hash, 'failingAlertedAt', at.toISOString())) === 1;
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
