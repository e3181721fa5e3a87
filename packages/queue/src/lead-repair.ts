import type { Lead } from '@leadrelay/core';
import type { DeliveryRecord } from './delivery-state.js';
import type { Relay } from './relay.js';
import { scanKeys } from './scan-keys.js';

export interface LeadRepairOptions {
  /** A lead written this recently may still be mid-accept in an intake: left alone (default 60 000 ms). */
  graceMs?: number;
  /** Only report what would be repaired (default false). */
  dryRun?: boolean;
  /** Lead hashes read per round trip (default 500). */
  batchSize?: number;
}

export interface RepairedLead {
  leadId: string;
  /** Destinations whose job was missing and was added. */
  jobsAdded: string[];
}

export interface RepairReport {
  /** Lead hashes looked at. */
  scanned: number;
  /** Leads written but never marked accepted (older than the grace period) that were finished. */
  repaired: RepairedLead[];
  dryRun: boolean;
}

/**
 * Finishes leads whose accept stopped midway. Accepting writes the lead hash first, then one job per
 * destination (deterministic job ids), then marks the lead accepted; with the spread key layout these
 * are separate commands on possibly separate masters. If the intake dies (or Redis fails) between them
 * and the client never posts the lead again, the lead is stored but not, or not fully, queued. This
 * sweep finds such leads (a hash with `destinations` but no `accepted`, older than `graceMs`), adds the
 * missing jobs under the same ids (an existing job is left as it is; a destination whose record already
 * moved past `queued` is not queued again) and marks the lead accepted, so the audit accounts for it.
 */
export class LeadRepair {
  constructor(private readonly relay: Relay, private readonly options: LeadRepairOptions = {}) {}

  async run(now = Date.now()): Promise<RepairReport> {
    const { keys, redis } = this.relay;
    const graceMs = this.options.graceMs ?? 60_000;
    const dryRun = this.options.dryRun ?? false;
    const repaired: RepairedLead[] = [];
    let scanned = 0;
    for await (const batch of scanKeys(redis, keys.leadPattern(), this.options.batchSize ?? 500)) {
      const ids = batch.map((k) => keys.leadIdOfKey(k)).filter((id): id is string => id !== undefined);
      scanned += ids.length;
      const heads = await Promise.all(ids.map((id) => redis.hmget(keys.lead(id), 'accepted', 'receivedAt', 'destinations')));
      const candidates = ids.filter((_, i) => {
        const [accepted, receivedAt, destinations] = heads[i]!;
        return !accepted && destinations && receivedAt && now - Date.parse(receivedAt) >= graceMs;
      });
      for (const id of candidates) {
        const done = await this.repair(id, now, dryRun);
        if (done) repaired.push(done);
      }
    }
    return { scanned, repaired, dryRun };
  }

  private async repair(leadId: string, now: number, dryRun: boolean): Promise<RepairedLead | undefined> {
    const { keys, redis, config } = this.relay;
    const hash = await redis.hgetall(keys.lead(leadId));
    if (hash.accepted || !hash.lead || !hash.destinations) return undefined;
    const lead = JSON.parse(hash.lead) as Lead;
    const matched = JSON.parse(hash.destinations) as string[];
    const missing: string[] = [];
    for (const d of matched) {
      if (!config.destinations.some((x) => x.id === d)) continue;
      const record = hash[`d:${d}`] ? (JSON.parse(hash[`d:${d}`]!) as DeliveryRecord) : undefined;
      // A worker already took it (the job existed): nothing to add.
      if (record && record.state !== 'queued') continue;
      if ((await redis.exists(keys.queueKey(keys.queueName(d), keys.jobId(d, leadId)))) === 1) continue;
      missing.push(d);
    }
    if (!dryRun) {
      await this.relay.enqueue(lead, matched.flatMap((d) => (missing.includes(d) ? [this.relay.destination(d)] : [])));
      await this.relay.leads.commit(leadId, new Date(now), undefined, { lead, receivedAt: new Date(hash.receivedAt ?? now) });
    }
    return { leadId, jobsAdded: missing };
  }
}
