import { leadIdentityKey, scrubCustomerData, type Lead } from '@leadrelay/core';
import type { Job } from 'bullmq';
import type { DeliveryJobData } from './delivery-state.js';
import type { RedisClient } from './redis-connection.js';
import type { Relay } from './relay.js';

export interface EraseOptions {
  /** Only count what would be erased (default false). */
  dryRun?: boolean;
  /** Events read per round trip from a queue's event stream (default 1000). */
  eventBatch?: number;
}

/** How much of each kind was erased (or, dry run, would be). */
export interface EraseCounts {
  /** Lead records turned into tombstones. */
  leads: number;
  /** BullMQ jobs removed, by the state they were in. */
  jobs: { waiting: number; delayed: number; dead: number; completed: number };
  /** Attempt timeline entries whose error text or warnings were removed. */
  timelineEntries: number;
  /** Dedupe (`intake.dedupeWindow`) and identity (`dedupe.window`) entries deleted. */
  dedupeEntries: number;
  /** Email index entries removed (the time and offer entries stay: they are not personal). */
  indexEntries: number;
  /** Entries of BullMQ's per-queue event streams about these jobs (they carry failure texts). */
  jobEvents: number;
  /** A destination's last-error text that quoted this person's values, scrubbed. */
  destinationErrors: number;
}

export interface EraseReport {
  dryRun: boolean;
  /** The leads found for the person (ids are not personal data: they stay in the tombstones). */
  leadIds: string[];
  erased: EraseCounts;
  /** Jobs a worker is delivering right now: left alone (the worker holds the lead); run erase again once they finish. */
  inFlight: { leadId: string; destination: string }[];
}

/** What a tombstone's record says about a delivery whose job was removed before it was delivered. */
export const ERASED_BEFORE_DELIVERY = 'erased on request before it was delivered (leadrelay erase)';

/**
 * The lead's slot, in one script: personal fields out of the hash (the lead, intake's warnings, error
 * texts of the records), `erasedAt` and the offer in; records of removed unfinished jobs say dead; timeline
 * entries lose their error texts; the email index entry goes. Keeps the hash's and timeline's expiry.
 * KEYS: lead hash, timeline, email index set (the lead hash when none). ARGV: erasedAt, lead id,
 * destinations whose unfinished job was removed (JSON), their record's text, '1' when KEYS[3] is an index set.
 * Answers {1 erased / 0 no record, timeline entries scrubbed, index entries removed}.
 */
const ERASE_LEAD_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  local removed = 0
  if ARGV[5] == '1' then removed = redis.call('ZREM', KEYS[3], ARGV[2]) end
  return {0, 0, removed}
end
local lead = redis.call('HGET', KEYS[1], 'lead')
if lead then
  local ok, l = pcall(cjson.decode, lead)
  if ok and type(l) == 'table' and type(l.offer) == 'string' then redis.call('HSET', KEYS[1], 'offer', l.offer) end
end
local cut = {}
for _, d in ipairs(cjson.decode(ARGV[3])) do cut['d:' .. d] = true end
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, 2) == 'd:' then
    local ok, r = pcall(cjson.decode, redis.call('HGET', KEYS[1], f))
    if ok and type(r) == 'table' then
      r.lastError = nil
      r.remediation = nil
      if cut[f] then
        r.state = 'dead'
        r.lastError = ARGV[4]
        r.nextAttemptAt = nil
      end
      redis.call('HSET', KEYS[1], f, cjson.encode(r))
    end
  end
end
redis.call('HDEL', KEYS[1], 'lead', 'warnings')
redis.call('HSET', KEYS[1], 'erasedAt', ARGV[1])
local scrubbed = 0
local n = redis.call('LLEN', KEYS[2])
for i = 0, n - 1 do
  local ok, e = pcall(cjson.decode, redis.call('LINDEX', KEYS[2], i))
  if ok and type(e) == 'table' and (e.error ~= nil or e.warnings ~= nil) then
    e.error = nil
    e.warnings = nil
    redis.call('LSET', KEYS[2], i, cjson.encode(e))
    scrubbed = scrubbed + 1
  end
end
local removed = 0
if ARGV[5] == '1' then removed = redis.call('ZREM', KEYS[3], ARGV[2]) end
return {1, scrubbed, removed}
`;

type EraseRedis = RedisClient & { leadrelayEraseLead(...args: string[]): Promise<[number, number, number]> };

/** BullMQ job states that mean "not delivered yet": removing such a job means the lead will not be delivered there. */
const UNFINISHED = new Set(['waiting', 'delayed', 'prioritized', 'paused', 'waiting-children']);

/**
 * `leadrelay erase --email`: a person's data out of everything LeadRelay keeps in Redis, found through
 * the lead index (never a scan over leads). Per lead: its jobs are removed from every queue (waiting,
 * delayed, dead, completed; an active one is reported, not touched), their events dropped from the
 * queue's event stream, the lead record becomes a tombstone (id, received, offer, states, erasedAt),
 * timeline entries lose their error texts, dedupe and identity entries go, and a destination's last error
 * that quotes the person is scrubbed. What CRMs already received is theirs to erase.
 */
export class LeadEraser {
  constructor(private readonly relay: Relay, private readonly options: EraseOptions = {}) {
    if (!('leadrelayEraseLead' in relay.redis)) relay.redis.defineCommand('leadrelayEraseLead', { numberOfKeys: 3, lua: ERASE_LEAD_SCRIPT });
  }

  async eraseEmail(email: string, now = new Date()): Promise<EraseReport> {
    const { relay } = this;
    const dryRun = this.options.dryRun ?? false;
    const erased: EraseCounts = { leads: 0, jobs: { waiting: 0, delayed: 0, dead: 0, completed: 0 }, timelineEntries: 0, dedupeEntries: 0, indexEntries: 0, jobEvents: 0, destinationErrors: 0 };
    const inFlight: EraseReport['inFlight'] = [];
    const leadIds = await relay.leads.index.idsByEmail(email);
    const jobsByQueue = new Map<string, Set<string>>();
    const leads: Lead[] = [];
    for (const leadId of leadIds) {
      const hash = await relay.redis.hgetall(relay.keys.lead(leadId));
      const lead = hash.lead ? (JSON.parse(hash.lead) as Lead) : undefined;
      if (lead) leads.push(lead);
      // Every queue the lead may have a job in: its destinations, and every configured one (a lead sent with `test-lead --to`).
      const queues = new Set([...JSON.parse(hash.destinations ?? '[]') as string[], ...relay.config.destinations.map((d) => d.id)]);
      const cut: string[] = [];
      for (const d of queues) {
        const job = await relay.bullQueueOf(d).getJob(relay.keys.jobId(d, leadId)) as Job<DeliveryJobData> | undefined;
        if (!job) continue;
        const state = await job.getState();
        if (state === 'active') {
          inFlight.push({ leadId, destination: d });
          continue;
        }
        const kind = state === 'failed' ? 'dead' : state === 'completed' ? 'completed' : state === 'delayed' ? 'delayed' : 'waiting';
        if (!dryRun) await job.remove();
        erased.jobs[kind]++;
        if (UNFINISHED.has(state)) cut.push(d);
        let ids = jobsByQueue.get(d);
        if (!ids) jobsByQueue.set(d, (ids = new Set()));
        ids.add(job.id!);
      }
      const personal = lead?.customer.email ?? email;
      const emailKey = relay.leads.index.emailKey(leadId, personal);
      if (dryRun) {
        const [exists, timeline, inIndex] = await Promise.all([
          relay.redis.exists(relay.keys.lead(leadId)), relay.redis.lrange(relay.keys.timeline(leadId), 0, -1), relay.redis.zscore(emailKey, leadId)]);
        if (exists && hash.accepted && !hash.erasedAt) erased.leads++;
        erased.timelineEntries += timeline.filter((t) => { const e = JSON.parse(t) as { error?: string; warnings?: string[] }; return e.error !== undefined || e.warnings !== undefined; }).length;
        if (inIndex !== null) erased.indexEntries++;
      } else {
        const [written, scrubbed, removed] = await (relay.redis as EraseRedis).leadrelayEraseLead(
          relay.keys.lead(leadId), relay.keys.timeline(leadId), emailKey, now.toISOString(), leadId, JSON.stringify(cut), ERASED_BEFORE_DELIVERY, '1');
        if (Number(written) === 1 && !hash.erasedAt) erased.leads++;
        erased.timelineEntries += Number(scrubbed);
        erased.indexEntries += Number(removed);
      }
      erased.dedupeEntries += await this.dropPointers(leadId, lead, dryRun);
    }
    for (const [queue, ids] of jobsByQueue) erased.jobEvents += await this.dropEvents(queue, ids, dryRun);
    erased.destinationErrors += await this.scrubDestinationErrors(leads, dryRun);
    return { dryRun, leadIds, erased, inFlight };
  }

  /**
   * Dedupe and identity entries that point at this lead: the content id it was accepted under (its own id,
   * or the one before a `-<time>` rename) and its identity key (from the lead, while it is still there).
   */
  private async dropPointers(leadId: string, lead: Lead | undefined, dryRun: boolean): Promise<number> {
    const { relay } = this;
    const keys = [relay.keys.dedupe(leadId)];
    const renamed = /^(.+)-[0-9a-z]+$/.exec(leadId);
    if (renamed) keys.push(relay.keys.dedupe(renamed[1]!));
    const identity = lead ? leadIdentityKey(lead, { fields: relay.config.dedupe.identity, customer: relay.config.dedupe.customer }) : undefined;
    if (identity) keys.push(relay.keys.identity(identity));
    let n = 0;
    for (const key of keys) {
      if ((await relay.redis.get(key)) !== leadId) continue;
      if (!dryRun) await relay.redis.del(key);
      n++;
    }
    return n;
  }

  /** Entries of a queue's event stream (BullMQ keeps the last ~10,000) about these jobs, read in batches. */
  private async dropEvents(queue: string, jobIds: Set<string>, dryRun: boolean): Promise<number> {
    const { relay } = this;
    const key = relay.keys.queueKey(relay.keys.queueName(queue), 'events');
    const batch = this.options.eventBatch ?? 1000;
    let start = '-';
    let n = 0;
    for (;;) {
      const entries = await relay.redis.xrange(key, start, '+', 'COUNT', batch);
      const hits = entries.filter(([, fields]) => fields.some((v, i) => i % 2 === 1 && fields[i - 1] === 'jobId' && jobIds.has(v))).map(([id]) => id);
      if (hits.length && !dryRun) await relay.redis.xdel(key, ...hits);
      n += hits.length;
      if (entries.length < batch) return n;
      start = `(${entries.at(-1)![0]}`;
    }
  }

  /** A destination's last error quoting one of these leads' values ("Email ada@… is invalid"): scrubbed in place. */
  private async scrubDestinationErrors(leads: Lead[], dryRun: boolean): Promise<number> {
    if (leads.length === 0) return 0;
    const { relay } = this;
    let n = 0;
    for (const d of relay.config.destinations) {
      const key = relay.keys.destination(d.id);
      const fields = await relay.redis.hgetall(key);
      for (const [field, value] of Object.entries(fields)) {
        const scrubbed = leads.reduce((text, lead) => scrubCustomerData(text, lead), value);
        if (scrubbed === value) continue;
        if (!dryRun) await relay.redis.hset(key, field, scrubbed);
        n++;
      }
    }
    return n;
  }
}
