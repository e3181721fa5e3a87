import type { Lead, LeadWarning } from '@leadrelay/core';
import type { KeySpace } from './key-space.js';
import type { RedisClient } from './redis-connection.js';
import type { AttemptEntry, DeliveryRecord, LeadSighting, LeadStatus } from './delivery-state.js';
import { LeadIndex, type IndexedLead } from './lead-index.js';

/** Attempts kept per lead timeline; older ones are trimmed so Redis memory stays bounded. */
const TIMELINE_LIMIT = 100;

/** Outcomes of a destination's latest attempts kept for its `failing` state. */
export const RECENT_OUTCOMES = 20;

/** Hourly outcome buckets live long enough for "last 24 hours" with room to spare. */
const COUNTER_BUCKET_TTL_SECONDS = 49 * 3600;

/**
 * Sets a key's TTL unless it already has a longer one: a lead with a dead delivery is kept as long as
 * its dead letter (`deadLetters.retention`), and a later update elsewhere must not shorten that.
 * (EXPIRE … GT needs Redis 7.)
 */
const EXTEND_TTL = `
local function extendTtl(key, seconds)
  if redis.call('TTL', key) < tonumber(seconds) then redis.call('EXPIRE', key, seconds) end
end
`;

/**
 * Records one attempt. A `delivered` record is only ever replaced by another `delivered` one: a worker
 * that lost its job lock (event-loop stall, Redis restart) may finish its stale attempt after the job's
 * new owner delivered it, and its failure must not turn the lead back into `retrying` for good. The
 * attempt still goes into the timeline. A delivered or dead outcome is counted (total and hourly
 * bucket) only when the record changes into it, so a repeated delivery is not counted twice. In the
 * single-slot layout this is one script; spread, the lead's keys and the destination's are in two slots,
 * so RECORD_LEAD_PART runs first and RECORD_DESTINATION_PART is told its outcome.
 * An attempt (an entry) also feeds the destination's health in the same round trip: a delivered one
 * sets `lastSuccessAt` and ends a rejection streak; a failed one (retrying, dead) counts in the
 * hourly failed-attempt bucket; both append to `recent`, the last RECENT_OUTCOMES outcomes as
 * characters (`o` delivered, `x` failed), from which the `failing` state is read.
 * KEYS: lead hash, timeline, outcome total counter, outcome hourly counter (counters only used for
 * delivered/dead), destination hash, failed-attempt hourly counter.
 * ARGV: field, record, state, ttl seconds, entry ('' = none), timeline limit, bucket ttl, entry
 * outcome ('' = none), attempt time (ISO-8601), recent outcomes kept.
 */
const RECORD_LEAD_PART = `${EXTEND_TTL}
local current = redis.call('HGET', KEYS[1], ARGV[1])
local previous = nil
if current then
  local ok, record = pcall(cjson.decode, current)
  if ok and type(record) == 'table' then previous = record.state end
end
local keep = previous == 'delivered' and ARGV[3] ~= 'delivered'
if not keep then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
extendTtl(KEYS[1], ARGV[4])
if ARGV[5] ~= '' then
  redis.call('RPUSH', KEYS[2], ARGV[5])
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[6]), -1)
  extendTtl(KEYS[2], ARGV[4])
end
`;

/** Needs `previous` (the record's state before, or nil); KEYS 3–6 and ARGV as above. */
const RECORD_DESTINATION_PART = `
if (ARGV[3] == 'delivered' or ARGV[3] == 'dead') and previous ~= ARGV[3] and not keep then
  redis.call('INCR', KEYS[3])
  redis.call('INCR', KEYS[4])
  redis.call('EXPIRE', KEYS[4], ARGV[7])
end
local mark = nil
if ARGV[8] == 'delivered' then
  mark = 'o'
  redis.call('HSET', KEYS[5], 'lastSuccessAt', ARGV[9])
  redis.call('HDEL', KEYS[5], 'rejectStreak')
elseif ARGV[8] == 'retried' or ARGV[8] == 'retrying' or ARGV[8] == 'dead' then
  mark = 'x'
  redis.call('INCR', KEYS[6])
  redis.call('EXPIRE', KEYS[6], ARGV[7])
end
if mark then
  local recent = (redis.call('HGET', KEYS[5], 'recent') or '') .. mark
  redis.call('HSET', KEYS[5], 'recent', string.sub(recent, -tonumber(ARGV[10])))
end
`;

const RECORD_ATTEMPT = `${RECORD_LEAD_PART}${RECORD_DESTINATION_PART}
return keep and 0 or 1
`;

/** Spread layout, step 1: KEYS lead hash, timeline; answers {written 0/1, previous state or ''}. */
const RECORD_ATTEMPT_LEAD = `${RECORD_LEAD_PART}
return {keep and 0 or 1, previous or ''}
`;

/** Spread layout, step 2: KEYS the counters and destination hash (3–6 of RECORD_ATTEMPT), ARGV as RECORD_ATTEMPT's plus the previous state. */
const RECORD_ATTEMPT_DESTINATION = `
local KEYS = {false, false, KEYS[1], KEYS[2], KEYS[3], KEYS[4]}
local previous = ARGV[11] ~= '' and ARGV[11] or nil
local keep = ARGV[12] == '0'
${RECORD_DESTINATION_PART}
return 1
`;

const QUEUED = JSON.stringify({ state: 'queued', attempts: 0 } satisfies DeliveryRecord);
const SKIPPED = JSON.stringify({ state: 'skipped', attempts: 0 } satisfies DeliveryRecord);

/**
 * KEYS: lead hash, dedupe key (the lead hash again when the client gave an id).
 * ARGV: dedupe?, lead JSON, receivedAt, testLead, destinations, skipped, ttl, then field/record pairs.
 */
export const BEGIN_SCRIPT = `${EXTEND_TTL}
if ARGV[1] == '1' then
  local prior = redis.call('GET', KEYS[2])
  if prior then return {'prior', prior} end
end
local accepted = redis.call('HMGET', KEYS[1], 'accepted', 'destinations')
if accepted[1] then
  if ARGV[1] == '1' then return {'stale', false} end
  return {'duplicate', accepted[2]}
end
redis.call('HSET', KEYS[1], 'lead', ARGV[2], 'receivedAt', ARGV[3], 'testLead', ARGV[4], 'destinations', ARGV[5], 'skipped', ARGV[6])
for i = 8, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
extendTtl(KEYS[1], ARGV[7])
return {'new', false}
`;

/**
 * KEYS: lead hash, dedupe key, then the lead index's time, email (the lead hash when the lead has no
 * email), offer and offers keys (see LeadIndex; the lead hash four times when not indexed).
 * ARGV: acceptedAt, dedupe window ms ('' = none), lead id, then the index's received ms ('' = not
 * indexed), trim-before ms, key ttl ms, offer, has-email ('1'/'0').
 * The index is written with the acceptance, in its slot: a handful of O(log n) sorted-set commands, and
 * the time and offer sets drop members older than the index horizon as they go, so they never grow past it.
 */
export const COMMIT_SCRIPT = `
local first = redis.call('HSETNX', KEYS[1], 'accepted', ARGV[1])
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2], 'NX') end
if first == 1 and ARGV[4] ~= '' then
  local at, before, ttl, offer = tonumber(ARGV[4]), '(' .. ARGV[5], ARGV[6], ARGV[7]
  redis.call('ZADD', KEYS[3], at, ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', before)
  redis.call('PEXPIRE', KEYS[3], ttl)
  if ARGV[8] == '1' then
    redis.call('ZADD', KEYS[4], at, ARGV[3])
    redis.call('PEXPIRE', KEYS[4], ttl)
  end
  redis.call('ZADD', KEYS[5], at, ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', before)
  redis.call('PEXPIRE', KEYS[5], ttl)
  local latest = redis.call('ZSCORE', KEYS[6], offer)
  if not latest or tonumber(latest) < at then redis.call('ZADD', KEYS[6], at, offer) end
  redis.call('PEXPIRE', KEYS[6], ttl)
end
return first
`;

/**
 * - `new`: written, go on and queue it;
 * - `duplicate`: this id was accepted before;
 * - `prior`: this id-less lead's content was accepted inside the dedupe window, as `priorId`;
 * - `stale`: its content was accepted before the window: it is a new lead and needs its own id.
 */
export type BeginResult =
  | { outcome: 'new' | 'stale' }
  | { outcome: 'duplicate'; destinations: string[] }
  | { outcome: 'prior'; priorId: string };

/** What `begin` answers, from BEGIN_SCRIPT's reply. */
export function parseBeginResult(reply: unknown): BeginResult {
  const [outcome, value] = reply as [BeginResult['outcome'], string | null];
  if (outcome === 'duplicate') return { outcome, destinations: JSON.parse(value ?? '[]') as string[] };
  if (outcome === 'prior') return { outcome, priorId: value! };
  return { outcome };
}

/** The KEYS and ARGV of one script call. */
export interface ScriptCall {
  keys: string[];
  args: string[];
}

type ScriptedRedis = RedisClient & {
  leadrelayBegin(...args: string[]): Promise<unknown>;
  leadrelayCommit(...args: string[]): Promise<unknown>;
  leadrelayRecordAttempt(...args: string[]): Promise<unknown>;
  leadrelayRecordAttemptLead(...args: string[]): Promise<unknown>;
  leadrelayRecordAttemptDestination(...args: string[]): Promise<unknown>;
};

/** Registers LeadRelay's scripts on a client (EVALSHA with a cached script, like BullMQ's own). */
export function defineLeadScripts(redis: RedisClient): void {
  if ('leadrelayBegin' in redis) return;
  redis.defineCommand('leadrelayBegin', { numberOfKeys: 2, lua: BEGIN_SCRIPT });
  redis.defineCommand('leadrelayCommit', { numberOfKeys: 6, lua: COMMIT_SCRIPT });
  redis.defineCommand('leadrelayRecordAttempt', { numberOfKeys: 6, lua: RECORD_ATTEMPT });
  redis.defineCommand('leadrelayRecordAttemptLead', { numberOfKeys: 2, lua: RECORD_ATTEMPT_LEAD });
  redis.defineCommand('leadrelayRecordAttemptDestination', { numberOfKeys: 4, lua: RECORD_ATTEMPT_DESTINATION });
}

/**
 * Lead status in Redis: the lead hash (`lead`, `receivedAt`, `destinations`, `skipped`,
 * `accepted`, one `d:<destination>` record each) and the attempt timeline. Both expire after
 * `leads.retention` from their last update, or after `deadLetters.retention` from a delivery's death
 * if that is later: while a dead letter is kept, so is the status that explains it.
 */
export class LeadStore {
  /** The search index written with each acceptance (by email hash, offer, time received). */
  readonly index: LeadIndex;

  constructor(private readonly redis: RedisClient, private readonly keys: KeySpace, private readonly retentionMs: number, private readonly deadRetentionMs = retentionMs) {
    defineLeadScripts(redis);
    // A lead with a dead delivery is kept for deadLetters.retention: it must stay findable (and erasable) as long.
    this.index = new LeadIndex(redis, keys, { horizonMs: Math.max(retentionMs, deadRetentionMs) });
  }

  private get retentionSeconds(): number {
    return Math.max(1, Math.ceil(this.retentionMs / 1000));
  }

  private get deadRetentionSeconds(): number {
    return Math.max(this.retentionSeconds, Math.ceil(this.deadRetentionMs / 1000));
  }

  /**
   * Step 1 of accepting, one round trip: reports an earlier acceptance (or, for an id-less lead, the
   * id its content was accepted under), else writes the lead hash and its queued/skipped records.
   * Records a worker already wrote are kept (a retried post after a half-failed one).
   */
  async begin(lead: Lead, receivedAt: Date, matched: string[], skipped: string[], dedupeKey?: string, origin?: string): Promise<BeginResult> {
    const { keys, args } = this.beginCall(lead, receivedAt, matched, skipped, dedupeKey, origin);
    return parseBeginResult(await (this.redis as ScriptedRedis).leadrelayBegin(...keys, ...args));
  }

  /** KEYS and ARGV of BEGIN_SCRIPT for `begin` (also run inside the single-trip accept script). */
  beginCall(lead: Lead, receivedAt: Date, matched: string[], skipped: string[], dedupeKey?: string, origin?: string): ScriptCall {
    // Set only once (HSETNX, like the records): a retried post from another source does not rename the first.
    const records: string[] = origin ? ['origin', origin] : [];
    for (const d of matched) records.push(`d:${d}`, QUEUED);
    for (const d of skipped) records.push(`d:${d}`, SKIPPED);
    return {
      keys: [this.keys.lead(lead.id), dedupeKey ?? this.keys.lead(lead.id)],
      args: [dedupeKey ? '1' : '0', JSON.stringify(lead), receivedAt.toISOString(), String(lead.testLead), JSON.stringify(matched), JSON.stringify(skipped),
        String(this.retentionSeconds), ...records],
    };
  }

  /**
   * Step 2, after every job is in Redis: marks the lead accepted (and remembers its content for the
   * dedupe window). False when it already was (a concurrent post of the same lead won).
   */
  async commit(leadId: string, at: Date, dedupe?: { key: string; windowMs: number }, indexed?: IndexedLead): Promise<boolean> {
    // Spread, a renamed lead (same content past the dedupe window) may live in another slot than its content's dedupe entry.
    const apart = dedupe !== undefined && !this.keys.sameSlot(this.keys.lead(leadId), dedupe.key);
    const { keys, args } = this.commitCall(leadId, at, apart ? undefined : dedupe, indexed);
    const first = Number(await (this.redis as ScriptedRedis).leadrelayCommit(...keys, ...args)) === 1;
    if (apart) await this.redis.set(dedupe.key, leadId, 'PX', dedupe.windowMs, 'NX');
    return first;
  }

  /** KEYS and ARGV of COMMIT_SCRIPT for `commit` (also run inside the single-trip accept script). */
  commitCall(leadId: string, at: Date, dedupe?: { key: string; windowMs: number }, indexed?: IndexedLead): ScriptCall {
    const lead = this.keys.lead(leadId);
    const index = indexed ? this.index.entryCall(indexed.lead, indexed.receivedAt) : { keys: [lead, lead, lead, lead], args: ['', '', '', '', ''] };
    return {
      keys: [lead, dedupe?.key ?? lead, ...index.keys],
      args: [at.toISOString(), dedupe ? String(dedupe.windowMs) : '', leadId, ...index.args],
    };
  }

  /**
   * Keeps what intake changed to accept the lead (defaults, truncations) beside it, for its status.
   * Written before the lead is marked accepted, so an accepted lead never lacks its warnings.
   */
  async setWarnings(leadId: string, warnings: LeadWarning[]): Promise<void> {
    await this.redis.hset(this.keys.lead(leadId), 'warnings', JSON.stringify(warnings));
  }

  /** Says delivered at a destination whose delivered job outlived the lead's record (Relay.accept), keeping a delivered record's detail. */
  async markDelivered(leadId: string, destinationId: string): Promise<void> {
    const key = this.keys.lead(leadId);
    const current = await this.redis.hget(key, `d:${destinationId}`);
    if (current && (JSON.parse(current) as DeliveryRecord).state === 'delivered') return;
    await this.redis.hset(key, `d:${destinationId}`, JSON.stringify({ state: 'delivered', attempts: 1 } satisfies DeliveryRecord));
  }

  /** The accepted lead's matched destinations, or undefined when this id was never accepted. */
  async acceptedDestinations(leadId: string): Promise<string[] | undefined> {
    const [accepted, destinations] = await this.redis.hmget(this.keys.lead(leadId), 'accepted', 'destinations');
    return accepted && destinations ? (JSON.parse(destinations) as string[]) : undefined;
  }

  /** Whether a lead id was accepted, or only begun (its post is midway, or stopped midway), or is unknown. */
  async acceptance(leadId: string): Promise<{ state: 'accepted'; destinations: string[] } | { state: 'begun' | 'unknown' }> {
    const [lead, accepted, destinations] = await this.redis.hmget(this.keys.lead(leadId), 'lead', 'accepted', 'destinations');
    if (accepted && destinations) return { state: 'accepted', destinations: JSON.parse(destinations) as string[] };
    return { state: lead ? 'begun' : 'unknown' };
  }

  /**
   * Notes on an accepted lead that another arrival of the same customer action (its own id, from
   * `origin`) was merged into it. Once per arriving id, so a retried post is noted once; the lead
   * hash keeps its expiry.
   */
  async recordSighting(leadId: string, sighting: LeadSighting): Promise<void> {
    await this.redis.hsetnx(this.keys.lead(leadId), `seen:${sighting.leadId}`, JSON.stringify({ origin: sighting.origin, at: sighting.at }));
  }

  async exists(leadId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.lead(leadId))) === 1;
  }

  /**
   * Records one attempt's outcome: the destination's record and a timeline entry, atomically in one round
   * trip. Returns false when the record was kept because the lead is already delivered there (see RECORD_ATTEMPT).
   */
  async recordAttempt(leadId: string, destination: string, record: DeliveryRecord, entry?: AttemptEntry, at = Date.now()): Promise<boolean> {
    const outcome = record.state === 'dead' ? 'dead' : 'delivered';
    const hour = Math.floor(at / 3_600_000);
    const leadKeys = [this.keys.lead(leadId), this.keys.timeline(leadId)];
    const destinationKeys = [this.keys.counter(destination, outcome), this.keys.counter(destination, outcome, hour),
      this.keys.destination(destination), this.keys.counter(destination, 'failed', hour)];
    const ttl = record.state === 'dead' ? this.deadRetentionSeconds : this.retentionSeconds;
    const args = [`d:${destination}`, JSON.stringify(record), record.state, String(ttl), entry ? JSON.stringify(entry) : '', String(TIMELINE_LIMIT),
      String(COUNTER_BUCKET_TTL_SECONDS), entry?.outcome ?? '', entry?.at ?? new Date(at).toISOString(), String(RECENT_OUTCOMES)];
    const redis = this.redis as ScriptedRedis;
    if (this.keys.sameSlot(leadKeys[0]!, destinationKeys[2]!)) return Number(await redis.leadrelayRecordAttempt(...leadKeys, ...destinationKeys, ...args)) === 1;
    // Two slots: the lead's record first (it is what status and the audit read), then the destination's counters and health.
    const [written, previous] = await redis.leadrelayRecordAttemptLead(...leadKeys, ...args) as [number, string];
    await redis.leadrelayRecordAttemptDestination(...destinationKeys, ...args, previous);
    return Number(written) === 1;
  }

  /**
   * Adds an entry to a lead's timeline without touching any delivery record (work done for the lead that
   * is not a delivery to a destination, such as a source's write-back). Only while the timeline exists,
   * so it keeps the lead's expiry.
   */
  async appendTimeline(leadId: string, entry: AttemptEntry): Promise<void> {
    const key = this.keys.timeline(leadId);
    await this.redis.multi().rpushx(key, JSON.stringify(entry)).ltrim(key, -TIMELINE_LIMIT, -1).exec();
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
    const seenBy: LeadSighting[] = Object.entries(hash).filter(([f]) => f.startsWith('seen:'))
      .map(([f, v]) => ({ leadId: f.slice('seen:'.length), ...(JSON.parse(v) as Omit<LeadSighting, 'leadId'>) }))
      .sort((a, b) => a.at.localeCompare(b.at));
    if (seenBy.length > 0) seenBy.unshift({ leadId, origin: hash.origin ?? 'unknown', at: hash.receivedAt });
    return {
      id: leadId, receivedAt: hash.receivedAt, testLead: hash.testLead === 'true', deliveries,
      ...(seenBy.length > 0 ? { seenBy } : {}),
      ...(hash.warnings ? { warnings: JSON.parse(hash.warnings) as LeadWarning[] } : {}),
      ...(hash.erasedAt ? { erasedAt: hash.erasedAt } : {}),
      timeline: timeline.map((t) => JSON.parse(t) as AttemptEntry),
    };
  }
}
