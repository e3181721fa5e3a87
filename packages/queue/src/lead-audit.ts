import { Queue } from 'bullmq';
import { hashTag, type KeySpace } from './key-space.js';
import type { RedisClient } from './redis-connection.js';
import { queuesInRedis, readQueueSnapshot } from './queue-snapshot.js';
import { scanKeys } from './scan-keys.js';

/** The buckets an accepted lead can be in at one destination; `lost` is in none of the others. */
export const AUDIT_BUCKETS = ['delivered', 'dead', 'waiting', 'delayed', 'active', 'paused', 'skipped', 'lost'] as const;
export type AuditBucket = (typeof AUDIT_BUCKETS)[number];

/** One accepted lead that is in no bucket at a destination: not delivered, not dead, not queued, not skipped. */
export interface LostDelivery {
  leadId: string;
  destination: string;
  /** The lead's delivery record there (`none` when it has none). */
  recordState: string;
}

/** One destination's line: accepted = delivered + dead + waiting + delayed + active + paused + skipped + lost. */
export interface DestinationAudit extends Record<AuditBucket, number> {
  destination: string;
  /** False for a destination that has leads or a queue in Redis but is no longer in the config. */
  configured: boolean;
  accepted: number;
  /** Jobs in the queue whose lead is not (or no longer) accepted: posts that failed midway, or leads past `leads.retention`. Not part of the equation. */
  unaccountedJobs: number;
  balanced: boolean;
}

export interface AuditReport {
  at: string;
  /** Accepted leads seen (each counted once, whatever its number of destinations). */
  leads: number;
  destinations: DestinationAudit[];
  /** Every lead in none of the buckets (at most `lostLimit` of them; `lostTotal` counts them all). */
  lost: LostDelivery[];
  lostTotal: number;
  balanced: boolean;
}

export interface LeadAuditOptions {
  /** Destinations of the config (shown even with no leads). Default none: only what Redis holds. */
  configured?: string[];
  /** Lead hashes read per round trip (default 500). */
  batchSize?: number;
  /** Lost leads named in the report (default 1000); all are counted. */
  lostLimit?: number;
}

/**
 * Per lead hash of a batch: 0 when not accepted, else {1, destinations JSON, skipped JSON, record
 * states joined by ','} with the states in the order of the destinations. Only the `state` of each
 * record leaves Redis, never the lead itself.
 */
const READ_LEADS = `
local out = {}
for i, key in ipairs(KEYS) do
  local h = redis.call('HMGET', key, 'accepted', 'destinations', 'skipped')
  if h[1] and h[2] then
    local ok, dests = pcall(cjson.decode, h[2])
    local states = {}
    if ok and type(dests) == 'table' then
      for j, d in ipairs(dests) do
        local raw = redis.call('HGET', key, 'd:' .. d)
        local s = 'none'
        if raw then
          local okr, rec = pcall(cjson.decode, raw)
          if okr and type(rec) == 'table' and type(rec.state) == 'string' then s = rec.state end
        end
        states[j] = s
      end
    end
    out[i] = {1, h[2], h[3] or '[]', table.concat(states, ',')}
  else
    out[i] = {0}
  end
end
return out
`;

type AuditRedis = RedisClient & { leadrelayAuditLeads(numKeys: number, ...keys: string[]): Promise<unknown[]> };

interface Pending {
  leadId: string;
  destination: string;
  recordState: string;
}

/**
 * Zero-loss accounting over what Redis holds: every accepted lead (within `leads.retention`) at every
 * destination it was accepted for, put into exactly one bucket from its delivery record and the job's
 * place in the queue. Reads lead hashes in batches (one script call per batch) and each queue's sets in
 * one transaction, so its cost is a few round trips per thousand leads, not one per lead.
 *
 * The lead hashes are read before the queues: a lead accepted meanwhile has its jobs already, and a
 * delivery that finishes meanwhile is caught by re-reading the few that looked lost.
 */
export class LeadAudit {
  constructor(private readonly redis: RedisClient, private readonly keys: KeySpace, private readonly options: LeadAuditOptions = {}) {
    if (!('leadrelayAuditLeads' in redis)) redis.defineCommand('leadrelayAuditLeads', { lua: READ_LEADS });
  }

  async run(): Promise<AuditReport> {
    const configured = new Set(this.options.configured ?? []);
    const counts = new Map<string, DestinationAudit>();
    const line = (d: string): DestinationAudit => {
      let c = counts.get(d);
      if (!c) {
        c = { destination: d, configured: configured.has(d), accepted: 0, unaccountedJobs: 0, balanced: true, ...Object.fromEntries(AUDIT_BUCKETS.map((b) => [b, 0])) } as DestinationAudit;
        counts.set(d, c);
      }
      return c;
    };
    for (const d of configured) line(d);

    // 1. Lead hashes: which destinations each accepted lead went to and what its records say.
    const byDestination = new Map<string, Pending[]>();
    const seen = new Set<string>();
    const batchSize = this.options.batchSize ?? 500;
    for await (const batch of scanKeys(this.redis, this.keys.leadPattern(), batchSize)) {
      const fresh = batch.filter((k) => !seen.has(k) && this.keys.leadIdOfKey(k) !== undefined);
      for (const k of fresh) seen.add(k);
      for (const chunk of await this.readLeads(fresh, batchSize)) {
        chunk.rows.forEach((row, j) => {
          const key = chunk.keys[j]!;
          if (Number(row[0]) !== 1) {
            seen.delete(key);
            return;
          }
          const leadId = this.keys.leadIdOfKey(key)!;
          const destinations = parseList(row[1]);
          const states = String(row[3] ?? '').split(',');
          destinations.forEach((d, n) => {
            let list = byDestination.get(d);
            if (!list) byDestination.set(d, (list = []));
            list.push({ leadId, destination: d, recordState: states[n] || 'none' });
          });
          for (const d of parseList(row[2])) {
            const c = line(d);
            c.accepted++;
            c.skipped++;
          }
        });
      }
    }

    // 2. Each queue's sets, then every lead into one bucket.
    const queues = new Set([...configured, ...byDestination.keys(), ...(await queuesInRedis(this.redis, this.keys))]);
    const lost: Pending[] = [];
    const suspects: Pending[] = [];
    for (const d of queues) {
      const c = line(d);
      const snapshot = await readQueueSnapshot(this.redis, this.keys, d);
      const claimed = new Set<string>();
      for (const p of byDestination.get(d) ?? []) {
        c.accepted++;
        const jobId = this.keys.jobId(d, p.leadId);
        claimed.add(jobId);
        const bucket = classify(p.recordState, snapshot.jobs.get(jobId));
        if (bucket) c[bucket]++;
        else suspects.push(p);
      }
      for (const id of snapshot.jobs.keys()) if (!claimed.has(id)) c.unaccountedJobs++;
    }

    // 3. The few that looked lost, once more: their delivery may have finished between steps 1 and 2.
    for (let i = 0; i < suspects.length; i += 100) {
      const chunk = suspects.slice(i, i + 100);
      const again = await Promise.all(chunk.map((p) => this.recheck(p)));
      chunk.forEach((p, j) => {
        const bucket = again[j]!;
        const c = counts.get(p.destination)!;
        // Expired during the audit (past leads.retention): no longer accepted, so not counted.
        if (bucket === 'gone') {
          c.accepted--;
          return;
        }
        c[bucket]++;
        if (bucket === 'lost') lost.push(p);
      });
    }

    const destinations = [...counts.values()].sort((a, b) => a.destination.localeCompare(b.destination));
    for (const c of destinations) c.balanced = c.lost === 0;
    const limit = this.options.lostLimit ?? 1000;
    return {
      at: new Date().toISOString(), leads: seen.size, destinations,
      lost: lost.slice(0, limit).map((p) => ({ leadId: p.leadId, destination: p.destination, recordState: p.recordState })),
      lostTotal: lost.length, balanced: lost.length === 0,
    };
  }

  /**
   * READ_LEADS over `keys`, at most `batchSize` per call. A script's keys must share a slot: in the
   * spread layout the keys are grouped by lead shard, and the groups are read concurrently.
   */
  private async readLeads(keys: string[], batchSize: number): Promise<{ keys: string[]; rows: (number | string)[][] }[]> {
    const groups = new Map<string, string[]>();
    for (const k of keys) {
      const tag = this.keys.spread ? hashTag(k) : '';
      let g = groups.get(tag);
      if (!g) groups.set(tag, (g = []));
      g.push(k);
    }
    const chunks: string[][] = [];
    for (const g of groups.values()) for (let i = 0; i < g.length; i += batchSize) chunks.push(g.slice(i, i + batchSize));
    return Promise.all(chunks.map(async (chunk) => ({ keys: chunk, rows: await (this.redis as AuditRedis).leadrelayAuditLeads(chunk.length, ...chunk) as (number | string)[][] })));
  }

  /** One lead's bucket from a fresh read of its record and its job's state; `gone` when the lead expired meanwhile. */
  private async recheck(p: Pending): Promise<AuditBucket | 'gone'> {
    const [[accepted, raw], state] = await Promise.all([
      this.redis.hmget(this.keys.lead(p.leadId), 'accepted', `d:${p.destination}`),
      this.jobState(p.destination, this.keys.jobId(p.destination, p.leadId)),
    ]);
    if (!accepted) return 'gone';
    let recordState = 'none';
    try {
      recordState = raw ? (JSON.parse(raw) as { state?: string }).state ?? 'none' : 'none';
    } catch {
      // an unreadable record says nothing
    }
    p.recordState = recordState;
    if (state === 'completed') return 'delivered';
    return classify(recordState, state) ?? 'lost';
  }

  private readonly queues = new Map<string, Queue>();

  private async jobState(destination: string, jobId: string): Promise<string> {
    let q = this.queues.get(destination);
    if (!q) {
      q = new Queue(this.keys.queueName(destination), { connection: this.redis, prefix: this.keys.bullPrefix(this.keys.queueName(destination)) });
      q.on('error', () => undefined);
      this.queues.set(destination, q);
    }
    const state = await q.getJobState(jobId);
    if (state === 'waiting' || state === 'prioritized' || state === 'waiting-children') return (await q.isPaused()) ? 'paused' : 'waiting';
    return state;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
  }
}

function parseList(v: unknown): string[] {
  try {
    const list = JSON.parse(String(v ?? '[]')) as unknown;
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * A delivered record wins (a re-queued copy may still wait); then the job's place in its queue; a
 * dead record whose job was purged stays dead. Undefined when neither says where the lead is.
 */
function classify(recordState: string, place: string | undefined): AuditBucket | undefined {
  if (recordState === 'delivered') return 'delivered';
  if (place === 'waiting' || place === 'delayed' || place === 'active' || place === 'paused') return place;
  if (place === 'failed') return 'dead';
  if (recordState === 'dead') return 'dead';
  return undefined;
}
