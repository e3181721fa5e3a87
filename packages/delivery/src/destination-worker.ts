import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { DelayedError, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { ErrorCodes, ThrottledError, classifyError, settlesWithin, scrubCustomerData, type DeliveryError, type Lead, type SecretRedactor, type SerializedDeliveryError } from '@leadrelay/core';
import type { ResolvedDestination } from '@leadrelay/config';
import { getDestinationType, type BatchItemResult, type DestinationClient, type NetworkSettings } from '@leadrelay/destinations';
import type { LeadRelayMetrics, Logger } from '@leadrelay/observability';
import { type AttemptEntry, type DeliveryJobData, type DeliveryRecord, type Relay } from '@leadrelay/queue';
import { jitteredBackoff } from './backoff.js';
import { Batcher } from './batcher.js';
import { CallGate } from './call-gate.js';
import { ENDPOINT_STATUSES, REJECTION_STREAK, deadAfterRetriesRemediation, streakFailure } from './rejection-streak.js';
import { decideOutcome, type DeliveryOutcome } from './delivery-outcome.js';
import { AttemptTracer, type AttemptNote } from './attempt-tracer.js';

export interface DestinationWorkerOptions {
  relay: Relay;
  destination: ResolvedDestination;
  logger: Logger;
  metrics: LeadRelayMetrics;
  /** Hides secret values in stored error messages. */
  redactor?: SecretRedactor;
  /** Fills CRM-required fields a lead lacks. Default `[not provided]`. */
  placeholder?: string;
  /** How long a crashed worker's active job stays locked before another worker takes it (default 30 s). */
  lockDurationMs?: number;
  /** The egress proxy for destination calls (`network`); default: the HTTPS_PROXY / NO_PROXY environment. */
  network?: NetworkSettings;
  /** How often to look for such jobs (default: lockDurationMs, at most 5 s, so a killed worker's leads return soon after its locks expire). */
  stalledIntervalMs?: number;
  /**
   * How often this worker re-checks the destination's configuration pause against its own config hash
   * (default 5 s): it lifts a pause caused by another configuration, and stops taking jobs once its own
   * configuration was superseded (see README, rolling deploys).
   */
  pauseCheckIntervalMs?: number;
  /** Times a delivery may be taken back from a worker that died or stalled with it before it is dead (default 100). */
  maxStalledCount?: number;
}

/** BullMQ's failedReason when it fails a job itself: "job stalled (or started) more than allowable limit". */
const BULLMQ_LIMIT_FAILURE = /more than allowable limit/;

/** Events a DestinationWorker emits for alerts. */
export interface DestinationWorkerEvents {
  'destination-paused': [{ destination: string; reason: string; remediation: string }];
  'dead-lettered': [{ leadId: string; destination: string; error: SerializedDeliveryError }];
}

/** Extra room BullMQ gives a stalled job before it is dead: crashed workers must never cost a lead. */
const MAX_STALLED_COUNT = 100;

/** Longest gap between stalled-job checks: recovery after a crash takes lockDuration plus at most this. */
const MAX_STALLED_INTERVAL_MS = 5000;

/** After the shutdown deadline, how long aborted deliveries get to go back to waiting. */
const RELEASE_GRACE_MS = 500;

/** Errors kept per delivery for the dead-letter view: the first one (what started it) and the most recent ones. */
const ERRORS_KEPT = 20;

/** The first item and the last `limit - 1`: a long outage must not push out the error that began it. */
function keepFirstAndLast<T>(items: T[], limit: number): T[] {
  return items.length <= limit ? items : [items[0]!, ...items.slice(-(limit - 1))];
}

/** Marks an error with the backoff we chose, so the BullMQ strategy and the recorded nextAttemptAt agree. */
type WithDelay = Error & { retryDelayMs?: number };

/**
 * BullMQ stores what the processor throws as the job's failedReason and stacktrace, which bull-board
 * shows: the message without customer values, and no stack frames (they name server paths and say
 * nothing about the destination's answer, which is in the lead's timeline).
 */
function withoutStack<E extends Error>(err: E): E {
  err.stack = `${err.name}: ${err.message}`;
  return err;
}

/** A stable hash of a destination's settings: a changed config resumes a destination paused for its configuration. */
export function configHash(d: ResolvedDestination): string {
  return createHash('sha256').update(JSON.stringify(d)).digest('hex').slice(0, 16);
}

/**
 * Delivers one destination's queue: takes jobs, calls the destination (alone or in batches) and
 * turns each outcome into what README: How delivery behaves promises: retry with backoff, wait out throttling without using
 * an attempt, dead-letter at once, or pause the destination and keep the lead.
 */
export class DestinationWorker extends EventEmitter<DestinationWorkerEvents> {
  private worker?: Worker<DeliveryJobData>;
  private client?: DestinationClient;
  private batcher?: Batcher;
  private readonly inFlight = new Map<string, Promise<{ remoteId?: string }>>();
  /** Dead-letter bookkeeping waiting for BullMQ to confirm the job is in the failed set. */
  private readonly pendingDead = new Map<string, () => Promise<void>>();
  private readonly d: ResolvedDestination;
  /** Aborted at the shutdown deadline: cuts in-flight destination calls short. */
  private readonly shutdown = new AbortController();
  private readonly log: Logger;
  private readonly hash: string;
  /** A span per attempt while tracing is on (README: Operations → Traces). */
  private readonly tracer: AttemptTracer;
  private pauseCheck?: NodeJS.Timeout;
  /** This worker's configuration of the destination was superseded: it takes none of its jobs. */
  private superseded = false;

  constructor(private readonly options: DestinationWorkerOptions) {
    super();
    this.d = options.destination;
    this.log = options.logger.child({ destination: this.d.id });
    this.hash = configHash(this.d);
    this.tracer = new AttemptTracer({ id: this.d.id, type: this.d.type });
  }

  get destinationId(): string {
    return this.d.id;
  }

  async start(): Promise<void> {
    const { relay } = this.options;
    const def = getDestinationType(this.d.type)!;
    this.client = await def.create(this.d, {
      logger: this.log,
      placeholder: this.options.placeholder ?? '[not provided]',
      rollingQuota: (name, limit, windowMs) => relay.rollingQuota(this.d.id, name, limit, windowMs),
      keyLocks: (name) => relay.keyLocks(this.d.id, name),
      ...(this.options.network ? { network: this.options.network } : {}),
    });
    const batching = def.batching?.(this.d);
    let concurrency = this.d.concurrency;
    let limiter: { max: number; duration: number } | undefined = this.d.rateLimit ? { max: this.d.rateLimit.max, duration: this.d.rateLimit.per } : undefined;
    if (batching) {
      const client = this.client;
      const gate = new CallGate({
        concurrency: this.d.concurrency,
        quota: this.d.rateLimit ? relay.rollingQuota(this.d.id, 'calls', this.d.rateLimit.max, this.d.rateLimit.per) : undefined,
        heldUntil: () => relay.control(this.d.id).heldUntil(),
      });
      const signal = this.shutdown.signal;
      const send = (leads: Lead[]) => gate.run(() => client.deliverBatch
        ? client.deliverBatch(leads, { signal })
        : Promise.all(leads.map((l) => client.deliver(l, { signal }).then((r): BatchItemResult => ({ ok: true, ...r }), (e): BatchItemResult => ({ ok: false, error: classifyError(e) })))));
      this.batcher = new Batcher(batching, send);
      // Enough jobs in hand to fill every concurrent call; the gate, not BullMQ, limits calls.
      concurrency = Math.min(this.d.concurrency * batching.maxSize, 2000);
      limiter = undefined;
    }
    await this.checkPause();
    const lockDuration = this.options.lockDurationMs ?? 30_000;
    this.worker = new Worker<DeliveryJobData>(relay.keys.queueName(this.d.id), (job, token) => this.process(job, token), {
      connection: relay.redis,
      prefix: relay.keys.bullPrefix(relay.keys.queueName(this.d.id)),
      concurrency,
      ...(limiter ? { limiter } : {}),
      lockDuration,
      stalledInterval: this.options.stalledIntervalMs ?? Math.min(lockDuration, MAX_STALLED_INTERVAL_MS),
      maxStalledCount: this.options.maxStalledCount ?? MAX_STALLED_COUNT,
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) =>
          (err as WithDelay | undefined)?.retryDelayMs ?? jitteredBackoff(attemptsMade, this.d.retry),
      },
    });
    if (this.superseded) await this.worker.pause(true);
    const every = this.options.pauseCheckIntervalMs ?? 5000;
    this.pauseCheck = setInterval(() => {
      this.checkPause().catch((e: Error) => this.log.warn({ err: this.redact(e.message) }, 'could not check the destination\'s pause'));
    }, every);
    this.pauseCheck.unref();
    this.worker.on('error', (err) => this.log.error({ err: this.redact(err.message) }, 'worker error'));
    this.worker.on('failed', (job, error) => {
      if (!job?.id) return;
      // Our own dead outcome (onFailed) left its record to write. 'failed' also fires for every retried
      // attempt; only BullMQ's own stalled/started limits fail a job without our processor deciding it.
      const record = this.pendingDead.get(job.id)
        ?? (BULLMQ_LIMIT_FAILURE.test(error.message) ? () => this.recordStalledLimit(job, error) : undefined);
      this.pendingDead.delete(job.id);
      if (!record) return;
      record().catch((e: Error) => this.log.error({ err: e.message, leadId: job.data.lead.id }, 'could not record a dead-lettered delivery'));
    });
  }

  /**
   * Pause reasons are tied to the config hash that caused them, and checked again at start and every
   * pauseCheckIntervalMs: a configuration pause caused by another config hash is lifted (that config is
   * then superseded), and a worker whose own config hash was superseded stops taking this destination's
   * jobs, so an old worker of a rolling deploy cannot pause what a newer config fixed.
   */
  private async checkPause(): Promise<void> {
    const control = this.options.relay.control(this.d.id);
    const superseded = await control.isSuperseded(this.hash);
    if (superseded) return this.stopTaking();
    if (this.superseded) {
      // An operator's resume forgets superseded configurations: take jobs again.
      this.superseded = false;
      this.worker?.resume();
      this.log.info({ configHash: this.hash }, 'this worker\'s configuration is no longer superseded: taking this destination\'s jobs again');
    }
    const lifted = await control.resumeForConfiguration(this.hash);
    if (lifted) this.log.warn({ configHash: this.hash, pausedByConfigHash: lifted }, 'destination was paused for a configuration failure of another configuration version: resumed with this one');
  }

  /** This worker's configuration of the destination failed and another version took over: stop fetching its jobs. */
  private async stopTaking(): Promise<void> {
    if (this.superseded) return;
    this.superseded = true;
    this.log.error({ configHash: this.hash, code: ErrorCodes.CONFIG_SUPERSEDED },
      'this worker runs a superseded configuration of this destination (it failed, and a worker with another configuration resumed it): it takes none of its jobs until restarted with the current configuration or `leadrelay resume`');
    await this.worker?.pause(true);
  }

  /** Pauses for a configuration failure, unless this worker's configuration was superseded; then it stops taking jobs. */
  private async pauseForConfiguration(reason: string, remediation: string): Promise<boolean> {
    const outcome = await this.options.relay.control(this.d.id).pauseForConfiguration({ by: 'configuration', reason, remediation, configHash: this.hash, at: new Date().toISOString() });
    if (outcome === 'paused') return true;
    await this.stopTaking();
    return false;
  }

  private redact(text: string): string {
    return this.options.redactor ? this.options.redactor.redact(text) : text;
  }

  /**
   * BullMQ can hand this worker a job it is still working on (its lock expired during a stall and
   * the job came back): the copy shares the attempt in flight instead of delivering the lead twice.
   */
  private process(job: Job<DeliveryJobData>, token?: string): Promise<{ remoteId?: string }> {
    const id = job.id!;
    const running = this.inFlight.get(id);
    if (running) return running;
    const attempt = this.tracer.run(job.data, job.attemptsMade + 1, (note) => this.attempt(job, token, note)).finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, attempt);
    return attempt;
  }

  private async attempt(job: Job<DeliveryJobData>, token: string | undefined, note: AttemptNote): Promise<{ remoteId?: string }> {
    const { relay } = this.options;
    const lead = job.data.lead;
    const pre = await relay.preflight(this.d.id, lead.id);
    if (pre.record?.state === 'delivered') {
      // Delivered by a worker that died before it could complete the job: never send it twice.
      note.outcome = 'already-delivered';
      this.log.info({ leadId: lead.id, outcome: 'delivered', alreadyDelivered: true }, 'already delivered to this destination: not sent again');
      return pre.record.remoteId ? { remoteId: pre.record.remoteId } : {};
    }
    if (pre.heldUntil) {
      // Another worker (or this one) was told to wait: no request until the hold ends.
      note.outcome = 'held';
      await this.park(job, token, pre.heldUntil.getTime(), pre.record);
      throw new DelayedError();
    }
    const attempt = job.attemptsMade + 1;
    const started = performance.now();
    let result: BatchItemResult;
    try {
      const signal = this.shutdown.signal;
      result = this.batcher ? await this.batcher.submit(lead) : { ok: true as const, ...(await this.client!.deliver(lead, { signal })) };
    } catch (e) {
      result = { ok: false, error: classifyError(e) };
    }
    const ms = performance.now() - started;
    if (!result.ok && this.shutdown.signal.aborted) {
      // Cut short by shutdown: back to waiting for another worker, without using an attempt.
      note.outcome = 'released';
      await job.moveToWait(token);
      this.log.warn({ leadId: lead.id, attempt, code: ErrorCodes.SHUTDOWN_ABORTED }, 'shutdown deadline reached mid-call: delivery released to waiting');
      throw new WaitingError();
    }
    const error = result.ok ? undefined : result.error;
    if (error) {
      note.code = error.destinationCode ?? error.code;
      if (error.status !== undefined) note.status = error.status;
    }
    const outcome = decideOutcome(error, { attemptsMade: job.attemptsMade, attempts: job.opts.attempts ?? 1, ...(job.data.throttledSince ? { throttledSince: job.data.throttledSince } : {}) }, this.d, Date.now());
    if (outcome.kind === 'delivered') {
      const remoteId = result.ok ? result.remoteId : undefined;
      await this.onDelivered(job, attempt, ms, remoteId, result.ok ? result.warnings : undefined);
      return remoteId ? { remoteId } : {};
    }
    throw await this.onFailed(job, token, attempt, ms, error!, outcome, note);
  }

  /** Parks a delivery as delayed until a hold ends (plus a little spread, so held leads do not all wake at once). */
  private async park(job: Job<DeliveryJobData>, token: string | undefined, holdUntil: number, record?: DeliveryRecord): Promise<void> {
    const wake = holdUntil + Math.round(Math.random() * Math.min(2000, Math.max(0, holdUntil - Date.now()) * 0.05));
    await Promise.all([
      this.options.relay.leads.recordAttempt(job.data.lead.id, this.d.id, { ...(record ?? { attempts: job.attemptsMade }), state: 'delayed', nextAttemptAt: new Date(wake).toISOString() }),
      job.moveToDelayed(wake, token),
    ]);
  }

  private async onDelivered(job: Job<DeliveryJobData>, attempt: number, ms: number, remoteId?: string, warnings?: string[]): Promise<void> {
    const { relay, metrics } = this.options;
    const leadId = job.data.lead.id;
    const now = new Date();
    await relay.leads.recordAttempt(leadId, this.d.id,
      { state: 'delivered', attempts: attempt, deliveredAt: now.toISOString(), ...(remoteId ? { remoteId } : {}) },
      { destination: this.d.id, attempt, at: now.toISOString(), outcome: 'delivered', durationMs: Math.round(ms), ...(warnings?.length ? { warnings } : {}) });
    metrics.deliveries.inc({ destination: this.d.id, outcome: 'delivered' });
    metrics.deliveryDuration.observe({ destination: this.d.id }, ms / 1000);
    this.log.info({ leadId, attempt, outcome: 'delivered', durationMs: Math.round(ms), remoteId, ...(warnings?.length ? { warnings: warnings.length } : {}) }, 'delivery attempt');
    this.log.debug({ leadId, customer: job.data.lead.customer }, 'delivered lead');
  }

  /**
   * BullMQ failed the job without our processor deciding it: it was taken back from dead or stalled
   * workers more than maxStalledCount times. Without this its record would still say queued or retrying
   * while it sits among the dead letters, and nobody would be alerted.
   */
  private async recordStalledLimit(job: Job<DeliveryJobData>, error: Error): Promise<void> {
    const { relay, metrics } = this.options;
    const leadId = job.data.lead.id;
    const now = new Date();
    const limit = this.options.maxStalledCount ?? MAX_STALLED_COUNT;
    const serialized: SerializedDeliveryError = {
      kind: 'transient', code: ErrorCodes.STALLED_LIMIT,
      message: `The delivery was interrupted more than ${limit} time(s): the workers sending it died or stalled (BullMQ: ${error.message})`,
      remediation: 'Look for worker restarts (out of memory, a crash loop, an event loop blocked longer than worker.lockDuration) in the worker logs; once fixed, `leadrelay dlq replay`.',
    };
    const errors = keepFirstAndLast([...(job.data.errors ?? []), { ...serialized, at: now.toISOString(), attempt: job.attemptsMade }], ERRORS_KEPT);
    await job.updateData({ ...job.data, errors }).catch(() => undefined);
    await relay.leads.recordAttempt(leadId, this.d.id, { state: 'dead', attempts: job.attemptsMade, lastError: serialized.message, remediation: serialized.remediation },
      { destination: this.d.id, attempt: job.attemptsMade, at: now.toISOString(), outcome: 'dead', durationMs: 0, error: serialized.message, code: serialized.code });
    metrics.deliveries.inc({ destination: this.d.id, outcome: 'dead' });
    this.log.error({ leadId, code: serialized.code, outcome: 'dead', remediation: serialized.remediation }, serialized.message);
    this.emit('dead-lettered', { leadId, destination: this.d.id, error: serialized });
  }

  /** Applies a failed attempt's outcome to Redis and returns what to throw so BullMQ does the right thing with the job. */
  private async onFailed(job: Job<DeliveryJobData>, token: string | undefined, attempt: number, ms: number, error: DeliveryError, outcome: Exclude<DeliveryOutcome, { kind: 'delivered' }>, note: AttemptNote): Promise<Error> {
    const { relay, metrics } = this.options;
    const leadId = job.data.lead.id;
    const now = new Date();
    const serialized = { ...error.toJSON(), message: this.redact(error.message), remediation: this.redact(error.remediation) };
    const entry = (kind: AttemptEntry['outcome'] = outcome.kind): AttemptEntry => ({
      destination: this.d.id, attempt, at: now.toISOString(), outcome: kind, durationMs: Math.round(ms), error: serialized.message, code: serialized.destinationCode ?? serialized.code,
    });
    const record = (state: DeliveryRecord['state'], extra: Partial<DeliveryRecord> = {}): DeliveryRecord => ({
      state, attempts: attempt, lastError: serialized.message, remediation: serialized.remediation, ...extra,
    });
    metrics.deliveryDuration.observe({ destination: this.d.id }, ms / 1000);
    // Destinations often quote the offending value; customer data is for debug level only.
    const logLine = { leadId, attempt, durationMs: Math.round(ms), error: scrubCustomerData(serialized.message, job.data.lead), code: serialized.destinationCode ?? serialized.code, outcome: outcome.kind };
    const holdUntil = 'holdUntil' in outcome ? outcome.holdUntil : undefined;
    const [, heldUntil] = await Promise.all([
      // The destination's last error is shown without its lead: no customer value it quotes.
      relay.control(this.d.id).setLastError({ ...serialized, message: logLine.error }, now),
      // Holds this destination for every worker; other destinations are untouched.
      holdUntil ? relay.control(this.d.id).hold(new Date(holdUntil)) : undefined,
    ]);
    if (holdUntil) this.log.warn({ heldUntil: heldUntil!.toISOString() }, 'destination asked to wait: held for every worker');

    note.outcome = outcome.kind;
    if (outcome.kind === 'throttled') {
      const wake = Math.max(outcome.holdUntil, heldUntil!.getTime());
      await Promise.all([
        job.updateData({ ...job.data, throttledSince: outcome.throttledSince }),
        relay.leads.recordAttempt(leadId, this.d.id, record('delayed', { attempts: job.attemptsMade, nextAttemptAt: new Date(wake).toISOString() }), entry()),
      ]);
      await job.moveToDelayed(wake, token);
      metrics.deliveries.inc({ destination: this.d.id, outcome: 'throttled' });
      this.log.warn({ ...logLine, retryAfterMs: outcome.holdUntil - now.getTime() }, 'delivery attempt');
      return new DelayedError();
    }
    if (error instanceof ThrottledError) this.log.warn({ leadId, throttledSince: job.data.throttledSince }, 'throttled longer than retry.maxThrottleWait: counting it as a failed attempt');

    if (outcome.kind === 'paused') {
      if (!(await this.pauseForConfiguration(logLine.error, serialized.remediation))) return this.release(job, token, logLine, note);
      await relay.leads.recordAttempt(leadId, this.d.id, record('paused', { attempts: job.attemptsMade }), entry());
      this.log.error({ ...logLine, remediation: serialized.remediation }, 'delivery attempt');
      this.emit('destination-paused', { destination: this.d.id, reason: serialized.message, remediation: serialized.remediation });
      // Back to the (now paused) queue without using an attempt: the lead waits for the fix.
      await job.moveToWait(token);
      return new WaitingError();
    }

    if (error.kind === 'permanent' && error.status !== undefined && ENDPOINT_STATUSES.has(error.status)) {
      const streak = await relay.control(this.d.id).noteRejection(error.status, leadId, REJECTION_STREAK);
      if (streak.length >= REJECTION_STREAK) return this.pauseForStreak(job, serialized, streak, record, entry, token, note);
      // A wrong address refuses every lead, a bad lead is refused while others get through. Until another lead was
      // delivered after this one's first such refusal, which it is stays open: the lead is retried (with backoff, using
      // attempts) instead of dead-lettered, so the leads of a wrong address wait for the pause, not dead and alerted one by one.
      const firstRefusal = (job.data.errors ?? []).find((e) => e.status !== undefined && ENDPOINT_STATUSES.has(e.status))?.at;
      const lastSuccessAt = firstRefusal ? (await relay.health(this.d.id)).lastSuccessAt : undefined;
      const othersGotThrough = !!firstRefusal && !!lastSuccessAt && Date.parse(lastSuccessAt) > Date.parse(firstRefusal);
      if (!othersGotThrough && attempt < (job.opts.attempts ?? 1)) outcome = { kind: 'retried', retryAt: now.getTime() + jitteredBackoff(attempt, this.d.retry) };
    }

    note.outcome = outcome.kind;
    const exhausted = outcome.kind === 'dead' && outcome.reason === 'exhausted';
    // Retry advice ("none needed") stops being true once the lead is dead.
    if (exhausted && error.kind !== 'permanent') serialized.remediation = deadAfterRetriesRemediation(this.d, serialized, attempt);
    const errors = keepFirstAndLast([...(job.data.errors ?? []), { ...serialized, at: now.toISOString(), attempt }], ERRORS_KEPT);
    await job.updateData({ ...job.data, ...(outcome.kind === 'retried' && outcome.throttledSince ? { throttledSince: outcome.throttledSince } : {}), errors });
    if (outcome.kind === 'dead') {
      if (exhausted && error.kind !== 'permanent') await relay.control(this.d.id).setLastError({ ...serialized, message: logLine.error }, now);
      // Recorded once BullMQ has moved the job to the failed set (the 'failed' handler in start()), so "dead" always means replayable.
      this.pendingDead.set(job.id!, async () => {
        await relay.leads.recordAttempt(leadId, this.d.id, record('dead'), entry());
        metrics.deliveries.inc({ destination: this.d.id, outcome: 'dead' });
        this.log.error({ ...logLine, remediation: serialized.remediation }, 'delivery attempt');
        this.emit('dead-lettered', { leadId, destination: this.d.id, error: serialized });
      });
      return withoutStack(new UnrecoverableError(logLine.error));
    }

    const delay = Math.max(0, outcome.retryAt - now.getTime());
    await relay.leads.recordAttempt(leadId, this.d.id, record('retrying', { nextAttemptAt: new Date(outcome.retryAt).toISOString() }), entry());
    metrics.deliveries.inc({ destination: this.d.id, outcome: 'retried' });
    this.log.warn({ ...logLine, retryInMs: delay }, 'delivery attempt');
    const thrown: WithDelay = withoutStack(new Error(logLine.error));
    thrown.retryDelayMs = delay;
    return thrown;
  }

  /** Back to waiting without using an attempt, for a worker of the current configuration. */
  private async release(job: Job<DeliveryJobData>, token: string | undefined, logLine: object, note: AttemptNote): Promise<Error> {
    note.outcome = 'released';
    await job.moveToWait(token);
    this.log.warn({ ...logLine, outcome: 'released' }, 'configuration failure with a superseded configuration: lead left for a worker with the current one');
    return new WaitingError();
  }

  /**
   * An earlier lead of a rejection streak waits for the fix with the rest: waiting for its retry (its first endpoint
   * status), it is put in the paused queue now and says `paused`; dead-lettered (a second one), it is replayed.
   */
  private async holdForPause(leadId: string, failure: SerializedDeliveryError): Promise<number> {
    const { relay } = this.options;
    const job = await relay.queue(this.d.id).getJob(relay.keys.jobId(this.d.id, leadId));
    if (!job) return 0;
    if (await job.isFailed()) return relay.replay({ destination: this.d.id, leadId });
    if (!(await job.isDelayed())) return 0;
    await relay.leads.recordAttempt(leadId, this.d.id, { state: 'paused', attempts: job.attemptsMade, lastError: failure.message, remediation: failure.remediation });
    await job.promote();
    return 1;
  }

  /**
   * Several different leads in a row got the same endpoint status (404, 410…): the address is wrong
   * for every lead. Pause as a configuration failure, keep this lead, and queue the earlier ones of
   * the streak again (they were dead-lettered one by one) so they wait for the fix too.
   */
  private async pauseForStreak(
    job: Job<DeliveryJobData>, last: SerializedDeliveryError, streak: string[],
    record: (state: DeliveryRecord['state'], extra?: Partial<DeliveryRecord>) => DeliveryRecord, entry: (outcome: AttemptEntry['outcome']) => AttemptEntry, token: string | undefined, note: AttemptNote,
  ): Promise<Error> {
    note.outcome = 'paused';
    const { relay } = this.options;
    const leadId = job.data.lead.id;
    const failure = streakFailure(this.d, { ...last, message: scrubCustomerData(last.message, job.data.lead) }, streak.length);
    const control = relay.control(this.d.id);
    await control.setLastError(failure);
    if (!(await this.pauseForConfiguration(failure.message, failure.remediation))) {
      await control.clearRejections();
      return this.release(job, token, { leadId, status: last.status }, note);
    }
    await control.clearRejections();
    await relay.leads.recordAttempt(leadId, this.d.id, { ...record('paused', { attempts: job.attemptsMade }), remediation: failure.remediation }, entry('paused'));
    let requeued = 0;
    for (const other of streak.filter((id) => id !== leadId)) {
      requeued += await this.holdForPause(other, failure).catch((e: Error) => {
        this.log.error({ err: this.redact(e.message), leadId: other }, 'could not queue a lead of the rejection streak again');
        return 0;
      });
    }
    this.log.error({ leadId, status: last.status, leads: streak.length, requeued, outcome: 'paused', remediation: failure.remediation }, 'same endpoint rejection for several leads: destination paused');
    this.emit('destination-paused', { destination: this.d.id, reason: failure.message, remediation: failure.remediation });
    // Back to the (now paused) queue without using an attempt.
    await job.moveToWait(token);
    return new WaitingError();
  }

  /**
   * Stops taking jobs; active ones get `timeoutMs` to finish. At the deadline their destination calls
   * are aborted and the deliveries go back to waiting for another worker, without using an attempt.
   */
  async close(timeoutMs = 30_000): Promise<void> {
    clearInterval(this.pauseCheck);
    if (!this.worker) return;
    const worker = this.worker;
    const closing = (async () => {
      const stopping = worker.close();
      await this.batcher?.drain();
      await stopping;
    })();
    if (!(await settlesWithin(closing, timeoutMs))) {
      this.log.warn({ timeoutMs, active: this.inFlight.size }, 'active deliveries did not finish in time: aborting them and releasing them to waiting');
      this.shutdown.abort();
      // Releasing takes one Redis call per delivery; a call that ignores the abort is left to the stalled-job check.
      if (!(await settlesWithin(closing, RELEASE_GRACE_MS))) this.log.warn('some deliveries did not stop when aborted: other workers take them over after worker.lockDuration');
    }
    await this.client?.close?.();
  }
}
