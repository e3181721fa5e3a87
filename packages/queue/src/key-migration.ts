import { globEscape, KeySpace } from './key-space.js';
import type { RedisClient } from './redis-connection.js';
import { scanKeys } from './scan-keys.js';

export interface KeyMigrationOptions {
  /** Only count what would move (default false). */
  dryRun?: boolean;
}

/** What a migration moved (or, dry, would move), by kind of key. */
export interface MigrationReport {
  from: string;
  to: string;
  dryRun: boolean;
  /** Lead hashes, timelines, dedupe and identity entries, lead index sets. */
  leadKeys: number;
  /** Destination hashes, alerts, counters and quotas. */
  destinationKeys: number;
  /** BullMQ jobs (waiting, active, delayed, failed, completed, ...) per queue: each destination's, `_sources`, `_writeback`. */
  jobs: Record<string, number>;
  /** Keys of the old layout this does not move (a pull source's state and token cache, which keep their names in both layouts), left as they are. */
  leftInPlace: number;
}

/** Queue sets whose members move to the same set of the new queue; the old `paused` and `active` lists move to `wait` (no worker runs). */
const QUEUE_LISTS: Record<string, string> = { wait: 'wait', paused: 'wait', active: 'wait' };
const QUEUE_ZSETS = ['prioritized', 'delayed', 'failed', 'completed', 'waiting-children'];
/** BullMQ bookkeeping rebuilt by the queue itself (events stream, wake-up marker, stalled checks, locks): dropped. */
const QUEUE_TRANSIENT = new Set(['events', 'marker', 'stalled', 'stalled-check', 'id', 'pc', 'limiter', 'metrics']);

/**
 * Moves a deployment's keys from the single-slot layout (`{prefix}:…`, every key in one Redis Cluster
 * slot) to the spread layout (`{prefix:<destination>}:…`, `{prefix:lead-<n>}:…`), so a Cluster's masters
 * share the load. Run it with the intake and the workers stopped (it moves `active` jobs back to `wait`).
 *
 * Each key is copied to its new name (DUMP/RESTORE with its TTL) and only then deleted, so a run that
 * stops midway is finished by running it again, and a run over moved keys does nothing. Where the new
 * name already exists (the new version ran before the migration) both are kept: a counter is added to,
 * queue sets are merged (a job already there is not added twice), any other existing key wins.
 */
export class KeyMigration {
  private readonly from: KeySpace;

  constructor(private readonly redis: RedisClient, private readonly to: KeySpace, private readonly options: KeyMigrationOptions = {}) {
    this.from = new KeySpace(to.prefix, { layout: 'single-slot' });
  }

  async run(): Promise<MigrationReport> {
    const dryRun = this.options.dryRun ?? false;
    const report: MigrationReport = { from: 'single-slot', to: this.to.layout, dryRun, leadKeys: 0, destinationKeys: 0, jobs: {}, leftInPlace: 0 };
    if (!this.to.spread) return report;
    const root = `{${this.to.prefix}}:`;
    const queueKeys = new Map<string, string[]>();
    for await (const batch of scanKeys(this.redis, `${globEscape(root)}*`)) {
      for (const key of batch) {
        const rest = key.slice(root.length);
        // Destination queues, and the sources' own (`_sources` polls, `_writeback` referral write-backs).
        const q = /^q:(_?[a-z][a-z0-9-]*):(.+)$/.exec(rest);
        if (q) {
          let list = queueKeys.get(q[1]!);
          if (!list) queueKeys.set(q[1]!, (list = []));
          list.push(q[2]!);
          continue;
        }
        // The lead index: one set per kind in the old layout, one per lead shard in the new.
        const idx = /^idx:(time|offers|email|offer)(?::(.+))?$/.exec(rest);
        if (idx) {
          report.leadKeys++;
          if (!dryRun) await this.moveIndex(key, idx[1] as 'time' | 'offers' | 'email' | 'offer', idx[2]);
          continue;
        }
        const target = this.newName(rest);
        if (!target) {
          report.leftInPlace++;
          continue;
        }
        if (target.kind === 'lead') report.leadKeys++;
        else report.destinationKeys++;
        if (!dryRun) await this.moveKey(key, target.key, target.counter);
      }
    }
    for (const [queue, suffixes] of queueKeys) report.jobs[queue] = await this.moveQueue(queue, suffixes, dryRun);
    return report;
  }

  /** The new name of a non-queue key of the old layout (`rest` is the part after `{prefix}:`). */
  private newName(rest: string): { key: string; kind: 'lead' | 'destination'; counter?: boolean } | undefined {
    const to = this.to;
    let m: RegExpExecArray | null;
    if ((m = /^lead:(.+)$/.exec(rest))) return { key: to.lead(m[1]!), kind: 'lead' };
    if ((m = /^timeline:(.+)$/.exec(rest))) return { key: to.timeline(m[1]!), kind: 'lead' };
    if ((m = /^dedupe:(.+)$/.exec(rest))) return { key: to.dedupe(m[1]!), kind: 'lead' };
    if ((m = /^identity:(.+)$/.exec(rest))) return { key: to.identity(m[1]!), kind: 'lead' };
    if ((m = /^dest:([a-z][a-z0-9-]*)$/.exec(rest))) return { key: to.destination(m[1]!), kind: 'destination' };
    if ((m = /^dest:([a-z][a-z0-9-]*):alert:(.+)$/.exec(rest))) return { key: to.alert(m[1]!, m[2]!), kind: 'destination' };
    if ((m = /^count:([a-z][a-z0-9-]*):(delivered|dead|failed)(?::(\d+))?$/.exec(rest))) {
      return { key: to.counter(m[1]!, m[2] as 'delivered' | 'dead' | 'failed', m[3] === undefined ? undefined : Number(m[3])), kind: 'destination', counter: true };
    }
    if ((m = /^quota:([a-z][a-z0-9-]*):(.+)$/.exec(rest))) return { key: to.quota(m[1]!, m[2]!), kind: 'destination' };
    return undefined;
  }

  /**
   * One lead index set, its members spread to their lead's shard (same score, the old key's TTL at least);
   * an offer set also names its offer in each shard's catalog. The old catalog is rebuilt that way, so it just goes.
   */
  private async moveIndex(from: string, kind: 'time' | 'offers' | 'email' | 'offer', value: string | undefined): Promise<void> {
    if (kind !== 'offers') {
      const [entries, ttl] = await Promise.all([this.redis.zrange(from, 0, -1, 'WITHSCORES'), this.redis.pttl(from)]);
      for (let i = 0; i < entries.length; i += 2) {
        const id = entries[i]!;
        const score = Number(entries[i + 1]);
        const tag = this.to.leadIndexTag(id);
        const keys = [kind === 'time' ? this.to.leadIndex(tag, 'time') : this.to.leadIndex(tag, kind, value!)];
        await this.redis.zadd(keys[0]!, score, id);
        if (kind === 'offer') {
          const catalog = this.to.leadIndex(tag, 'offers');
          const latest = await this.redis.zscore(catalog, value!);
          if (latest === null || Number(latest) < score) await this.redis.zadd(catalog, score, value!);
          keys.push(catalog);
        }
        for (const k of keys) if (ttl > 0 && (await this.redis.pttl(k)) < ttl) await this.redis.pexpire(k, ttl);
      }
    }
    await this.redis.del(from);
  }

  /** Copies one key under its new name (kept when that exists; a counter is added to), then deletes the old one. */
  private async moveKey(from: string, to: string, counter = false): Promise<void> {
    if (from === to) return;
    if (counter) {
      // Taken from the old key first: a run that stops here loses this count rather than counting it twice.
      const [value, ttl] = await Promise.all([this.redis.get(from), this.redis.pttl(from)]);
      if (value === null) return;
      await this.redis.del(from);
      await this.redis.incrby(to, Number(value));
      if (ttl > 0 && (await this.redis.pttl(to)) < 0) await this.redis.pexpire(to, ttl);
      return;
    }
    await this.copy(from, to);
    await this.redis.del(from);
  }

  /** DUMP/RESTORE with the key's remaining TTL; false when `to` existed already (left as it is) or `from` is gone. */
  private async copy(from: string, to: string): Promise<boolean> {
    const [dump, ttl] = await Promise.all([this.redis.dumpBuffer(from), this.redis.pttl(from)]);
    if (dump === null || ttl === -2) return false;
    try {
      await this.redis.restore(to, ttl > 0 ? ttl : 0, dump);
      return true;
    } catch (e) {
      if (/BUSYKEY/.test((e as Error).message)) return false;
      throw e;
    }
  }

  /**
   * One destination's queue: every job hash (and its logs) first, then each set's members into the same
   * set of the new queue (a job already there is not added again), the meta hash unless the new queue
   * has one, then the old keys go. A wake-up marker lets waiting workers see the moved jobs.
   */
  private async moveQueue(queue: string, suffixes: string[], dryRun: boolean): Promise<number> {
    const old = (s: string) => this.from.queueKey(queue, s);
    const neu = (s: string) => this.to.queueKey(queue, s);
    const sets = new Set([...Object.keys(QUEUE_LISTS), ...QUEUE_ZSETS, 'meta']);
    const jobKeys = suffixes.filter((s) => !sets.has(s) && !QUEUE_TRANSIENT.has(s) && !s.endsWith(':lock'));
    const jobs = jobKeys.filter((s) => !s.includes(':')).length;
    if (dryRun) return jobs;
    for (const s of jobKeys) await this.copy(old(s), neu(s));
    let waiting = 0;
    for (const [from, to] of Object.entries(QUEUE_LISTS)) {
      if (!suffixes.includes(from)) continue;
      // LRANGE is newest first; pushed in that order on the right, the oldest is again taken first.
      for (const id of await this.redis.lrange(old(from), 0, -1)) {
        if ((await this.redis.lpos(neu(to), id)) === null) await this.redis.rpush(neu(to), id);
        waiting++;
      }
    }
    for (const z of QUEUE_ZSETS) {
      if (!suffixes.includes(z)) continue;
      const flat = await this.redis.zrange(old(z), 0, -1, 'WITHSCORES');
      for (let i = 0; i < flat.length; i += 2) await this.redis.zadd(neu(z), 'NX', flat[i + 1]!, flat[i]!);
      if (z === 'delayed' || z === 'prioritized') waiting += flat.length / 2;
    }
    if (suffixes.includes('meta')) await this.copy(old('meta'), neu('meta'));
    if (waiting > 0 && (await this.redis.hget(neu('meta'), 'paused')) !== '1') await this.redis.zadd(neu('marker'), 0, '0');
    for (const s of suffixes) await this.redis.del(old(s));
    return jobs;
  }
}
