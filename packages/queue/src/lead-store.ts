import type { Lead } from '@leadrelay/core';
import type { KeySpace } from './key-space.js';
import type { RedisClient } from './redis-connection.js';
import type { AttemptEntry, DeliveryRecord, LeadStatus } from './delivery-state.js';

/** Attempts kept per lead timeline; older ones are trimmed so Redis memory stays bounded. */
const TIMELINE_LIMIT = 100;

/**
 * Lead status in Redis: the lead hash (`lead`, `receivedAt`, `destinations`, `skipped`,
 * `accepted`, one `d:<destination>` record each) and the attempt timeline. Both expire after
 * `leads.retention` from their last update.
 */
export class LeadStore {
  constructor(private readonly redis: RedisClient, private readonly keys: KeySpace, private readonly retentionMs: number) {}

  private get retentionSeconds(): number {
    return Math.max(1, Math.ceil(this.retentionMs / 1000));
  }

  /** Writes the lead and its queued/skipped records; not yet "accepted" (see markAccepted). */
  async writeLead(lead: Lead, receivedAt: Date, matched: string[], skipped: string[]): Promise<void> {
    const key = this.keys.lead(lead.id);
    const queued: DeliveryRecord = { state: 'queued', attempts: 0 };
    const fields: Record<string, string> = {
      lead: JSON.stringify(lead), receivedAt: receivedAt.toISOString(), testLead: String(lead.testLead),
      destinations: JSON.stringify(matched), skipped: JSON.stringify(skipped),
    };
    for (const d of skipped) fields[`d:${d}`] = JSON.stringify({ state: 'skipped', attempts: 0 } satisfies DeliveryRecord);
    const multi = this.redis.multi().hset(key, fields);
    // Never overwrite progress a worker already recorded (a retried post after a half-failed one).
    for (const d of matched) multi.hsetnx(key, `d:${d}`, JSON.stringify(queued));
    await multi.expire(key, this.retentionSeconds).exec().then(throwOnExecError);
  }

  /** Marks the lead accepted; false when it already was (a concurrent or earlier post). */
  async markAccepted(leadId: string, at: Date): Promise<boolean> {
    return (await this.redis.hsetnx(this.keys.lead(leadId), 'accepted', at.toISOString())) === 1;
  }

  /** The accepted lead's matched destinations, or undefined when this id was never accepted. */
  async acceptedDestinations(leadId: string): Promise<string[] | undefined> {
    const [accepted, destinations] = await this.redis.hmget(this.keys.lead(leadId), 'accepted', 'destinations');
    return accepted && destinations ? (JSON.parse(destinations) as string[]) : undefined;
  }

  async exists(leadId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.lead(leadId))) === 1;
  }

  /** Records one attempt's outcome: the destination's record and a timeline entry, in one round trip. */
  async recordAttempt(leadId: string, destination: string, record: DeliveryRecord, entry?: AttemptEntry): Promise<void> {
    const leadKey = this.keys.lead(leadId);
    const multi = this.redis.multi().hset(leadKey, `d:${destination}`, JSON.stringify(record)).expire(leadKey, this.retentionSeconds);
    if (entry) {
      const tl = this.keys.timeline(leadId);
      multi.rpush(tl, JSON.stringify(entry)).ltrim(tl, -TIMELINE_LIMIT, -1).expire(tl, this.retentionSeconds);
    }
    await multi.exec().then(throwOnExecError);
  }

  async getRecord(leadId: string, destination: string): Promise<DeliveryRecord | undefined> {
    const v = await this.redis.hget(this.keys.lead(leadId), `d:${destination}`);
    return v ? (JSON.parse(v) as DeliveryRecord) : undefined;
  }

  async getLead(leadId: string): Promise<Lead | undefined> {
    const v = await this.redis.hget(this.keys.lead(leadId), 'lead');
    return v ? (JSON.parse(v) as Lead) : undefined;
  }

  /** The status of an accepted lead, records in destination order; undefined when unknown. */
  async getStatus(leadId: string): Promise<LeadStatus | undefined> {
    const [hash, timeline] = await Promise.all([
      this.redis.hgetall(this.keys.lead(leadId)),
      this.redis.lrange(this.keys.timeline(leadId), 0, -1),
    ]);
    if (!hash.accepted || !hash.receivedAt) return undefined;
    const order = [...JSON.parse(hash.destinations ?? '[]') as string[], ...JSON.parse(hash.skipped ?? '[]') as string[]];
    const deliveries: Record<string, DeliveryRecord> = {};
    for (const d of order) {
      const raw = hash[`d:${d}`];
      deliveries[d] = raw ? (JSON.parse(raw) as DeliveryRecord) : { state: 'queued', attempts: 0 };
    }
    return {
      id: leadId, receivedAt: hash.receivedAt, testLead: hash.testLead === 'true', deliveries,
      timeline: timeline.map((t) => JSON.parse(t) as AttemptEntry),
    };
  }
}

/** ioredis MULTI resolves with per-command errors instead of rejecting: surface them. */
export function throwOnExecError(results: [Error | null, unknown][] | null): void {
  if (!results) throw new Error('Redis transaction aborted');
  for (const [err] of results) if (err) throw err;
}
