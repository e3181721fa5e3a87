import { queuesInRedis } from './queue-snapshot.js';
import { IntakeDurability, parseDurability } from './intake-durability.js';
import { FlowProducer, Queue, type JobsOptions } from 'bullmq';
import { ErrorCodes, leadIdentityKey, type Lead, type LeadWarning } from '@leadrelay/core';
import { destinationMatches, type LeadRelayConfig, type ResolvedDestination } from '@leadrelay/config';
import { matchesDeadLetter, type DeadLetterFilter } from './dead-letter-filter.js';
import { DestinationControl, holdInForce, type DestinationHealth, type PauseInfo } from './destination-control.js';
import type { DeadLetter, DeliveryJobData, DeliveryRecord, DestinationState, DestinationStats, JobTrace, LeadStatus } from './delivery-state.js';
import { KeySpace, type KeyLayout } from './key-space.js';
import { LeadStore } from './lead-store.js';
import { createRedisConnection, type ConnectionRole, type RedisClient } from './redis-connection.js';
import { RedisKeyLocks } from './redis-key-locks.js';
import { clearFinishedJob, finishedJobCall } from './finished-job.js';
import { RedisRollingQuota } from './redis-rolling-quota.js';
import { SingleTripAccept, type IdentityClaim } from './single-trip-accept.js';
import type { LeadSearchFilter, LeadSearchPage } from './lead-index.js';

export interface AcceptResult {
  id: string;
  duplicate: boolean;
  /** Destinations the lead was queued for (its `match` took it). */
  destinations: string[];
  /** Set when this arrival was the same customer action as the accepted lead `id` and merged into it: the id it came with. */
  mergedFrom?: string;
}

/** What Relay.claimIdentity finds: an accepted lead to merge into, or the identity claim to write once accepted (none: left to its holder). */
interface ClaimOutcome {
  merged?: { leadId: string; destinations: string[] };
  pending?: IdentityClaim;
}

/** Options of Relay.accept. */
export interface AcceptOptions {
  /** True when the lead's id came from its sender (not derived from its content). */
  clientId: boolean;
  /** Receive time (default now). */
  now?: Date;
  /** Destinations to queue it for regardless of their `match` (test leads from the CLI); skips identity merging. */
  only?: string[];
  /** What intake changed to accept it, kept beside the lead. */
  warnings?: LeadWarning[];
  /** Where it arrived from (`webhook`, `<source type>:<source id>`), shown in its status. */
  origin?: string;
  /** The intake request's trace context, carried in each job so its delivery spans continue the trace. */
  trace?: JobTrace;
}

/** See Relay.preflight. */
export interface Preflight {
  /** Set while the destination is held for throttling. */
  heldUntil?: Date;
  /** The lead's delivery record at the destination, when it has one. */
  record?: DeliveryRecord;
}

export interface RelayOptions {
  /** `fail-fast` (default) for request paths; `blocking` inside workers. */
  role?: ConnectionRole;
  /** Use this client instead of opening one (tests, shared connections). */
  redis?: RedisClient;
  /** Told about connection errors (e.g. to log them); they are otherwise silent. */
  onConnectionError?: (err: Error) => void;
  /** Key layout; default `spread` with `redis.cluster`, else `single-slot` (see KeySpace). */
  keyLayout?: KeyLayout;
}

/** Name of the BullMQ custom backoff every delivery job uses (see packages/delivery backoff). */
export const BACKOFF_TYPE = 'leadrelay-jitter';

/** Dead-letter jobs read per round trip by `deadLetters`. */
const DEAD_LETTER_BATCH = 500;
/** stats checks the locks of at most this many active jobs (a worker's concurrency rarely comes close). */
const STALLED_SCAN_LIMIT = 1000;

/** Finished jobs are only kept briefly: the lead hash is the record of what happened. */
const REMOVE_ON_COMPLETE = { age: 3600, count: 5000 };

/** Relay.preflight on a single Redis. KEYS: destination hash, lead hash. ARGV: the lead's record field. */
const PREFLIGHT_SCRIPT = `return {redis.call('HGET', KEYS[1], 'throttledUntil'), redis.call('HGET', KEYS[2], ARGV[1])}`;

type PreflightRedis = RedisClient & { leadrelayPreflight(destinationKey: string, leadKey: string, field: string): Promise<unknown> };

/**
 * LeadRelay's state in Redis, for every process: accepting leads (atomic fan-out to one queue per
 * destination), lead status, destination pause/throttle state, stats and the dead-letter set.
 */
export class Relay {
  readonly keys: KeySpace;
  readonly redis: RedisClient;
  readonly leads: LeadStore;
  private readonly ownsRedis: boolean;
  private readonly queues = new Map<string, Queue>();
  private flow?: FlowProducer;
  private readonly singleTrip: SingleTripAccept;
  private durable?: IntakeDurability;

  constructor(readonly config: LeadRelayConfig, options: RelayOptions = {}) {
    this.keys = new KeySpace(config.redis.prefix, { layout: options.keyLayout ?? defaultKeyLayout(config) });
    this.redis = options.redis ?? createRedisConnection(config.redis, options.role ?? 'fail-fast');
    this.ownsRedis = !options.redis;
    // Connection errors surface through the commands that fail (503, a CLI message); without a
    // listener ioredis would also print every reconnect failure to stderr.
    if (this.ownsRedis) this.redis.on('error', (err: Error) => options.onConnectionError?.(err));
    this.leads = new LeadStore(this.redis, this.keys, config.leads.retention, config.deadLetters.retention);
    this.singleTrip = new SingleTripAccept(this.redis, this.leads);
    if (!('leadrelayPreflight' in this.redis)) this.redis.defineCommand('leadrelayPreflight', { numberOfKeys: 2, lua: PREFLIGHT_SCRIPT });
  }

  /** What a 202 waits for (`intake.durability`), on this Relay's connection: the one accept writes on. */
  get durability(): IntakeDurability {
    this.durable ??= new IntakeDurability(this.redis, parseDurability(this.config.intake?.durability ?? 'none'), this.config.intake?.durabilityTimeout ?? 2000);
    return this.durable;
  }

  destination(id: string): ResolvedDestination {
    const d = this.config.destinations.find((x) => x.id === id);
    if (!d) throw new UnknownDestinationError(id, this.config.destinations.map((x) => x.id));
    return d;
  }

  /** The BullMQ queue of a destination (one per destination, created on first use). */
  queue(destinationId: string): Queue<DeliveryJobData> {
    this.destination(destinationId);
    return this.bullQueue(destinationId);
  }

  /** The queue of a configured destination or of an orphan one (a destination removed from the config), for LeadEraser. */
  bullQueueOf(destinationId: string): Queue<DeliveryJobData> {
    return this.bullQueue(destinationId);
  }

  /** The queue of a configured destination or of an orphan one (a destination removed from the config). */
  private bullQueue(destinationId: string): Queue<DeliveryJobData> {
    let q = this.queues.get(destinationId);
    if (!q) {
      q = new Queue(this.keys.queueName(destinationId), { connection: this.redis, prefix: this.keys.bullPrefix(this.keys.queueName(destinationId)) });
      q.on('error', () => { /* surfaced by the command that failed */ });
      this.queues.set(destinationId, q);
    }
    return q as Queue<DeliveryJobData>;
  }

  control(destinationId: string): DestinationControl {
    return new DestinationControl(this.redis, this.keys, destinationId, this.queue(destinationId));
  }

  /**
   * What a worker reads before it calls a destination, in one round trip: whether the destination is
   * held (a Retry-After or quota wait another worker may have hit) and the lead's record there (a lead
   * already delivered, by a worker that died before it could complete the job, is not sent again).
   */
  async preflight(destinationId: string, leadId: string, now = Date.now()): Promise<Preflight> {
    let hold: string | null;
    let record: string | null;
    if (this.keys.spread) {
      // Two slots (possibly two masters): two commands, sent together.
      [hold, record] = await Promise.all([this.redis.hget(this.keys.destination(destinationId), 'throttledUntil'), this.redis.hget(this.keys.lead(leadId), `d:${destinationId}`)]);
    } else {
      // One script rather than a pipeline: an ioredis pipeline copies every defined script (BullMQ's and ours) when made.
      [hold, record] = await (this.redis as PreflightRedis).leadrelayPreflight(this.keys.destination(destinationId), this.keys.lead(leadId), `d:${destinationId}`) as [string | null, string | null];
    }
    const heldUntil = holdInForce(hold, now);
    return {
      ...(heldUntil ? { heldUntil } : {}),
      ...(record ? { record: JSON.parse(record) as DeliveryRecord } : {}),
    };
  }

  rollingQuota(destinationId: string, name: string, limit: number, windowMs: number): RedisRollingQuota {
    return new RedisRollingQuota(this.redis, this.keys.quota(destinationId, name), limit, windowMs);
  }

  /** Key locks of one destination, shared by every worker process (all in the destination's slot). */
  keyLocks(destinationId: string, name: string): RedisKeyLocks {
    return new RedisKeyLocks(this.redis, (key) => this.keys.keyLock(destinationId, name, key));
  }

  jobOptions(d: ResolvedDestination, leadId: string): JobsOptions {
    return {
      jobId: this.keys.jobId(d.id, leadId),
      attempts: d.retry.attempts,
      backoff: { type: BACKOFF_TYPE },
      removeOnComplete: REMOVE_ON_COMPLETE,
      removeOnFail: false,
      // Our own error list (message, code, remediation) is what dead letters show; stack traces would
      // add kilobytes to every failed job for nobody.
      stackTraceLimit: 0,
    };
  }

  /**
   * Stores a lead for every destination its `match` takes, before answering, in three steps:
   * write the lead hash (or find it was accepted already), add the jobs, mark it accepted. On a single
   * Redis the three run in one script (one round trip, see SingleTripAccept); on a Cluster, where the
   * lead and each destination's queue live in different slots (spread layout), they are three round
   * trips, the adds sent together. A lead whose post stopped after its hash was written is finished by
   * LeadRepair (`leadrelay audit --repair`) if the client does not post it again. Any
   * failure midway can be retried with the same lead without duplicating: the lead hash never
   * overwrites a worker's progress, job ids are deterministic (an existing job is not added again),
   * and the lead only counts as accepted once every job is in Redis.
   */
  async accept(input: Lead, options: AcceptOptions): Promise<AcceptResult> {
    const now = options.now ?? new Date();
    const identity = options.only ? undefined : this.identityOf(input);
    const oneTripPossible = this.singleTrip.available && !options.warnings?.length;
    // The one-trip script reads the identity itself and answers `identity` when another lead holds it.
    let claim = identity && !oneTripPossible ? await this.claimIdentity(identity, input.id) : { pending: identity };
    const merge = (into: { leadId: string; destinations: string[] }) => this.merge(input.id, into, options.origin, now);
    if (claim.merged) return merge(claim.merged);
    const enabled = this.config.destinations.filter((d) => d.enabled);
    // `only` (test leads from the CLI) names destinations outright, bypassing their match rules.
    const matched = options.only ? enabled.filter((d) => options.only!.includes(d.id)) : enabled.filter((d) => destinationMatches(d, input));
    const matchedIds = matched.map((d) => d.id);
    const skipped = enabled.filter((d) => !matched.includes(d)).map((d) => d.id);
    const dedupe = options.clientId ? undefined : { key: this.keys.dedupe(input.id), windowMs: this.config.intake.dedupeWindow };

    let lead = input;
    // A new lead on a single Redis: every step below in one round trip (the same steps, in one script).
    // A lead with warnings (rare) keeps them beside it before it is accepted: that takes the step-by-step path.
    const targets = () => matched.map((d) => ({ queue: this.queue(d.id), opts: this.jobOptions(d, lead.id), finished: finishedJobCall(this.keys, d.id, lead.id) }));
    let oneTrip = oneTripPossible ? await this.singleTrip.accept(lead, now, matchedIds, skipped, targets(), dedupe, claim.pending, options.origin, options.trace) : undefined;
    if (oneTrip?.outcome === 'identity') {
      claim = await this.resolveHolder(claim.pending!, oneTrip.holder);
      if (claim.merged) return merge(claim.merged);
      oneTrip = await this.singleTrip.accept(lead, now, matchedIds, skipped, targets(), dedupe, claim.pending, options.origin, options.trace);
      if (oneTrip?.outcome === 'identity') throw new Error(`lead identity ${claim.pending?.key} changed hands twice during one accept`);
    }
    if (oneTrip?.outcome === 'accepted') return { id: lead.id, duplicate: !oneTrip.first, destinations: matchedIds };
    let begun = oneTrip ?? await this.leads.begin(lead, now, matchedIds, skipped, dedupe?.key, options.origin);
    if (begun.outcome === 'prior') {
      const destinations = await this.leads.acceptedDestinations(begun.priorId);
      if (destinations) return { id: begun.priorId, duplicate: true, destinations };
      begun = await this.leads.begin(lead, now, matchedIds, skipped, undefined, options.origin);
    }
    if (begun.outcome === 'stale') {
      // Outside the dedupe window the same content is a new lead (a customer may ask twice): give it its own id.
      lead = { ...input, id: `${input.id}-${now.getTime().toString(36)}` };
      begun = await this.leads.begin(lead, now, matchedIds, skipped, undefined, options.origin);
    }
    if (begun.outcome === 'duplicate') return { id: lead.id, duplicate: true, destinations: begun.destinations };

    if (options.warnings && options.warnings.length > 0) await this.leads.setWarnings(lead.id, options.warnings);
    await this.enqueue(lead, await this.withoutDelivered(lead.id, matched), options.trace);
    const first = await this.leads.commit(lead.id, now, dedupe, { lead, receivedAt: now });
    // Claimed only once the lead is accepted (the one-trip script does the same), so a later arrival never merges into a lead that is not.
    if (claim?.pending) await this.setIdentity(claim.pending, lead.id);
    return { id: lead.id, duplicate: !first, destinations: matchedIds };
  }

  /** The lead's identity (its key in Redis and how long it holds), or undefined when identity merging does not apply. */
  private identityOf(lead: Lead): IdentityClaim | undefined {
    const windowMs = this.config.dedupe.window;
    if (!(windowMs > 0)) return undefined;
    const key = leadIdentityKey(lead, { fields: this.config.dedupe.identity, customer: this.config.dedupe.customer });
    return key ? { key: this.keys.identity(key), windowMs, force: false } : undefined;
  }

  /**
   * Whether an earlier arrival of the same customer action holds this identity: `merged` when it is an
   * accepted lead (this arrival merges into it); else `pending`, the claim to write once this lead is
   * accepted — forced over a holder that is unknown (expired, or its post never got as far as its
   * record). A holder that is begun but not yet accepted (a post midway, or one that stopped midway) is
   * left holding and this lead is accepted on its own: a duplicate in that rare race rather than a
   * lead merged into one that may never be delivered.
   */
  private async claimIdentity(identity: IdentityClaim, leadId: string): Promise<ClaimOutcome> {
    const holder = await this.redis.get(identity.key);
    if (holder === null || holder === leadId) return { pending: identity };
    return this.resolveHolder(identity, holder);
  }

  private async resolveHolder(identity: IdentityClaim, holder: string): Promise<ClaimOutcome> {
    const held = await this.leads.acceptance(holder);
    if (held.state === 'accepted') return { merged: { leadId: holder, destinations: held.destinations } };
    return held.state === 'unknown' ? { pending: { ...identity, force: true } } : {};
  }

  /** This arrival (`leadId`) is noted on the lead it merges into, and answered as a duplicate of it. */
  private async merge(leadId: string, into: { leadId: string; destinations: string[] }, origin: string | undefined, now: Date): Promise<AcceptResult> {
    await this.leads.recordSighting(into.leadId, { leadId, origin: origin ?? 'unknown', at: now.toISOString() });
    return { id: into.leadId, duplicate: true, destinations: into.destinations, mergedFrom: leadId };
  }

  private async setIdentity(identity: IdentityClaim, leadId: string): Promise<void> {
    if (identity.force) await this.redis.set(identity.key, leadId, 'PX', identity.windowMs);
    else await this.redis.set(identity.key, leadId, 'PX', identity.windowMs, 'NX');
  }

  /**
   * The destinations whose job is not already delivered under this lead's id (see FINISHED_JOB_SCRIPT:
   * a dead job left behind by an expired record is removed, so the add queues the lead again).
   */
  private async withoutDelivered(leadId: string, destinations: ResolvedDestination[]): Promise<ResolvedDestination[]> {
    const finished = await Promise.all(destinations.map((d) => clearFinishedJob(this.redis, this.keys, d.id, leadId)));
    const delivered = destinations.filter((_, i) => finished[i] === 'delivered');
    // Spread, the lead hash is in another slot than the queue: its record is written here.
    if (this.keys.spread) await Promise.all(delivered.map((d) => this.leads.markDelivered(leadId, d.id)));
    return destinations.filter((_, i) => finished[i] !== 'delivered');
  }

  /**
   * One job per destination. In the single-slot layout several are added in one transaction (BullMQ
   * flow); spread, each queue is in its own slot, so each gets its own add (sent together): a failure
   * midway leaves some jobs, and the retried post (or LeadRepair) adds the rest under the same ids.
   */
  async enqueue(lead: Lead, destinations: ResolvedDestination[], trace?: JobTrace): Promise<void> {
    const data: DeliveryJobData = trace ? { lead, ...trace } : { lead };
    if (this.keys.spread) {
      await Promise.all(destinations.map((d) => this.queue(d.id).add('deliver', data, this.jobOptions(d, lead.id))));
    } else if (destinations.length === 1) {
      const d = destinations[0]!;
      await this.queue(d.id).add('deliver', data, this.jobOptions(d, lead.id));
    } else if (destinations.length > 1) {
      this.flow ??= new FlowProducer({ connection: this.redis, prefix: this.keys.bullPrefix('') });
      await this.flow.addBulk(destinations.map((d) => ({ name: 'deliver', queueName: this.keys.queueName(d.id), data, opts: this.jobOptions(d, lead.id) })));
    }
  }

  /** The lead status of `GET /v1/leads/{id}` (README: Intake HTTP API); deliveries waiting at a paused destination show `paused`. */
  async status(leadId: string): Promise<LeadStatus | undefined> {
    const status = await this.leads.getStatus(leadId);
    if (!status) return undefined;
    const waiting = Object.entries(status.deliveries).filter(([, r]) => r.state === 'queued' || r.state === 'retrying' || r.state === 'delayed');
    await Promise.all(waiting.map(async ([d, r]) => {
      if (!this.config.destinations.some((x) => x.id === d)) return;
      const health = await this.health(d);
      if (!health.paused) return;
      // A lead that has not been tried yet still says why it waits: the destination's pause reason.
      const why = r.lastError ? {} : { ...(health.pause ? { lastError: health.pause.reason } : {}), ...(health.pause?.remediation ? { remediation: health.pause.remediation } : {}) };
      status.deliveries[d] = { ...r, ...why, state: 'paused' };
    }));
    return status;
  }

  async health(destinationId: string): Promise<DestinationHealth> {
    return this.control(destinationId).health();
  }

  async pause(destinationId: string, info: Omit<PauseInfo, 'at'> = { by: 'operator', reason: 'paused by an operator' }): Promise<void> {
    await this.control(destinationId).pause({ ...info, at: new Date().toISOString() });
  }

  async resume(destinationId: string): Promise<void> {
    await this.control(destinationId).resume();
  }

  /** Hourly counts of one outcome for the last `hours` hours, oldest first (the current hour last). */
  private async hourlyCounts(destinationId: string, outcome: 'delivered' | 'dead' | 'failed', hours: number, now: number): Promise<number[]> {
    const keys = Array.from({ length: hours }, (_, i) => this.keys.counter(destinationId, outcome, now - (hours - 1 - i)));
    const values = await this.redis.mget(...keys);
    return values.map((v) => Number(v ?? 0));
  }

  /**
   * Active jobs whose worker lock is gone: their worker died (SIGKILL, OOM, lost host) and BullMQ's stalled check
   * has not yet moved them back to waiting. Checks at most STALLED_SCAN_LIMIT active jobs, since it is one EXISTS each.
   */
  private async stalledCount(queueName: string): Promise<number> {
    const ids = await this.redis.lrange(this.keys.queueKey(queueName, 'active'), 0, STALLED_SCAN_LIMIT - 1);
    if (ids.length === 0) return 0;
    // One EXISTS per key: in the spread layout a queue's keys still share one slot, so a pipeline is fine on a cluster.
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.exists(this.keys.queueKey(queueName, `${id}:lock`));
    const results = (await pipeline.exec()) ?? [];
    return results.filter(([error, exists]) => !error && Number(exists) === 0).length;
  }

  async stats(destinationId: string): Promise<DestinationStats> {
    const d = this.destination(destinationId);
    const q = this.queue(d.id);
    const hour = Math.floor(Date.now() / 3_600_000);
    const [counts, stalled, health, delivered, dHourly, xHourly, fHourly] = await Promise.all([
      q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed'),
      this.stalledCount(d.id),
      this.health(d.id),
      this.redis.get(this.keys.counter(d.id, 'delivered')),
      this.hourlyCounts(d.id, 'delivered', 24, hour), this.hourlyCounts(d.id, 'dead', 24, hour), this.hourlyCounts(d.id, 'failed', 24, hour),
    ]);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const rate = (ok: number, failed: number) => (ok + failed === 0 ? undefined : Math.round((ok / (ok + failed)) * 1000) / 1000);
    const [dHour, dDay, fHour, fDay] = [dHourly.at(-1) ?? 0, sum(dHourly), fHourly.at(-1) ?? 0, sum(fHourly)];
    const view = healthView(health);
    const hourly = dHourly.map((n, i) => ({ hour: new Date((hour - 23 + i) * 3_600_000).toISOString(), delivered: n, failed: fHourly[i] ?? 0 }));
    return {
      destination: d.id, type: d.type, state: view.state,
      waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
      active: counts.active ?? 0, stalled, delayed: counts.delayed ?? 0, delivered: Number(delivered ?? 0), dead: counts.failed ?? 0,
      ...view.fields,
      deliveredLastHour: dHour, deliveredLastDay: dDay, deadLastHour: xHourly.at(-1) ?? 0, deadLastDay: sum(xHourly),
      failedAttemptsLastHour: fHour, failedAttemptsLastDay: fDay,
      ...optional('successRateLastHour', rate(dHour, fHour)), ...optional('successRateLastDay', rate(dDay, fDay)),
      hourly,
    };
  }

  async allStats(): Promise<DestinationStats[]> {
    return Promise.all(this.config.destinations.map((d) => this.stats(d.id)));
  }

  /** The destinations a dlq command works on; a filter may name an orphan queue (a destination removed from the config). */
  private async destinationsFor(filter?: string): Promise<{ id: string }[]> {
    if (!filter) return this.config.destinations;
    if (!this.config.destinations.some((d) => d.id === filter) && (await queuesInRedis(this.redis, this.keys)).includes(filter)) return [{ id: filter }];
    return [this.destination(filter)];
  }

  /**
   * Dead-lettered deliveries, newest first (`dlq list`, README: CLI): every job of the queue's failed set
   * (its membership is the state, so no job is asked for its state), read a few hundred per round trip.
   */
  async deadLetters(options: DeadLetterFilter & { limit?: number } = {}): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    // The failed set is scored by when each job failed: a time window is a range of it, not a filter over all.
    const max = options.until === undefined ? '+inf' : `(${options.until}`;
    const min = options.since === undefined ? '-inf' : String(options.since);
    // A limit counts matches: with a code or offer filter, read the window whole and cut after matching.
    const readLimit = narrowsByContent(options) ? undefined : options.limit;
    for (const d of await this.destinationsFor(options.destination)) {
      const failedKey = this.keys.queueKey(this.keys.queueName(d.id), 'failed');
      let ids: string[];
      if (options.leadId) {
        const id = this.keys.jobId(d.id, options.leadId);
        const score = await this.redis.zscore(failedKey, id);
        ids = score === null || (options.since !== undefined && Number(score) < options.since) || (options.until !== undefined && Number(score) >= options.until) ? [] : [id];
      } else if (readLimit === undefined) {
        ids = await this.redis.zrevrangebyscore(failedKey, max, min);
      } else {
        ids = await this.redis.zrevrangebyscore(failedKey, max, min, 'LIMIT', 0, readLimit);
      }
      for (let i = 0; i < ids.length; i += DEAD_LETTER_BATCH) {
        const chunk = ids.slice(i, i + DEAD_LETTER_BATCH);
        const pipeline = this.redis.pipeline();
        for (const id of chunk) pipeline.hmget(this.keys.queueKey(this.keys.queueName(d.id), id), 'data', 'atm', 'attemptsMade', 'finishedOn', 'timestamp', 'failedReason');
        const rows = (await pipeline.exec()) ?? [];
        for (const [err, row] of rows) {
          if (err) throw err;
          // BullMQ counts attempts in `atm` (older jobs: `attemptsMade`).
          const [data, atm, attemptsMade, finishedOn, timestamp, failedReason] = row as (string | null)[];
          if (!data) continue; // removed meanwhile
          const job = JSON.parse(data) as DeliveryJobData;
          const errors = job.errors ?? [];
          const last = errors.at(-1);
          const dl: DeadLetter = {
            leadId: job.lead.id, destination: d.id, attempts: Number(atm ?? attemptsMade ?? 0),
            lastError: last?.message ?? failedReason ?? '', remediation: last?.remediation ?? 'Check the destination, then `leadrelay dlq replay`.',
            failedAt: new Date(Number(finishedOn ?? timestamp ?? 0)).toISOString(), errors, lead: job.lead,
          };
          if (matchesDeadLetter(dl, options)) out.push(dl);
        }
      }
    }
    out.sort((a, b) => b.failedAt.localeCompare(a.failedAt));
    return options.limit === undefined ? out : out.slice(0, options.limit);
  }

  /** Re-queues dead deliveries with fresh attempts; returns how many. */
  async replay(options: DeadLetterFilter, onProgress?: (done: number) => void): Promise<number> {
    let n = 0;
    for (const dl of await this.deadLetters(options)) {
      const job = await this.bullQueue(dl.destination).getJob(this.keys.jobId(dl.destination, dl.leadId));
      if (!job) continue;
      // The record first: once the job is back in the queue a worker may fail it again at once, and that
      // outcome must not be overwritten by this `queued`.
      const record: DeliveryRecord = { state: 'queued', attempts: 0, lastError: dl.lastError };
      await this.leads.recordAttempt(dl.leadId, dl.destination, record);
      await job.updateData({ ...job.data, throttledSince: undefined });
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      n++;
      onProgress?.(n);
    }
    return n;
  }

  /** Deletes dead deliveries; returns how many. */
  async purge(options: DeadLetterFilter, onProgress?: (done: number) => void): Promise<number> {
    let n = 0;
    for (const dl of await this.deadLetters(options)) {
      const job = await this.bullQueue(dl.destination).getJob(this.keys.jobId(dl.destination, dl.leadId));
      if (!job) continue;
      await job.remove();
      n++;
      onProgress?.(n);
    }
    return n;
  }

  /**
   * One page of leads found through the lead index (`leadrelay leads`, `GET /api/leads`), newest first: by
   * email, offer glob or receive time, narrowed by state and destination. Unmasked: callers mask (maskLeadSummary).
   */
  async findLeads(filter: LeadSearchFilter): Promise<LeadSearchPage> {
    if (filter.destination) this.destination(filter.destination);
    return this.leads.index.search(filter);
  }

  /** True when Redis answers. */
  async ping(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    await this.flow?.close().catch(() => undefined);
    if (this.ownsRedis) await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** A Redis Cluster spreads LeadRelay's keys over its masters; a single Redis keeps them in one slot (one-script accept). */
export function defaultKeyLayout(config: LeadRelayConfig): KeyLayout {
  return config.redis.cluster && config.redis.cluster.length > 0 ? 'spread' : 'single-slot';
}

/** A code or offer filter is checked on each dead letter read, so a limit cannot be applied while reading. */
function narrowsByContent(f: DeadLetterFilter): boolean {
  return Boolean(f.code) || Boolean(f.offer);
}

/** Latest attempts looked at for `failing`, and how many of them must exist before it can show. */
const FAILING_WINDOW = 10;
const FAILING_MIN_ATTEMPTS = 3;

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * A destination's state and the advice that is true now: a pause says why and how to resume (an
 * operator's pause never shows a leftover error's hint); an error is only "last error" while no
 * delivery has succeeded after it, so a resumed, delivering destination shows none.
 */
export function healthView(health: DestinationHealth): { state: DestinationState; fields: Partial<DestinationStats> } {
  const recent = health.recent.slice(-FAILING_WINDOW);
  const failures = [...recent].filter((c) => c === 'x').length;
  const failing = recent.length >= FAILING_MIN_ATTEMPTS && failures * 2 > recent.length;
  const state: DestinationState = health.paused ? 'paused' : health.throttledUntil ? 'throttled' : failing ? 'failing' : 'running';
  const err = health.lastError;
  const current = err !== undefined && (!health.lastSuccessAt || err.at > health.lastSuccessAt);
  const pause = health.pause;
  const remediation = pause
    ? (pause.by === 'operator'
      ? 'Paused by an operator: leads keep queueing. Resume when ready: `leadrelay resume <destination>` or Resume on the dashboard.'
      : pause.remediation ?? err?.remediation)
    : current ? err.remediation : undefined;
  return {
    state,
    fields: {
      ...(current ? { lastError: err.message, lastErrorAt: err.at, lastErrorCode: err.destinationCode ? `${err.code} (${err.destinationCode})` : err.code } : {}),
      ...(remediation ? { remediation } : {}),
      ...(pause ? { pausedReason: pause.reason, pausedBy: pause.by, pausedAt: pause.at } : {}),
      ...(health.throttledUntil ? { throttledUntil: health.throttledUntil } : {}),
      ...(health.lastSuccessAt ? { lastSuccessAt: health.lastSuccessAt } : {}),
    },
  };
}

export class UnknownDestinationError extends Error {
  readonly code = ErrorCodes.UNKNOWN_DESTINATION;
  constructor(id: string, known: string[]) {
    super(`unknown destination '${id}' (configured: ${known.join(', ') || 'none'})`);
    this.name = 'UnknownDestinationError';
  }
}
