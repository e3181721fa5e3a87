import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { ThrottledError, classifyError, scrubCustomerData, type DeliveryError, type Lead, type SecretRedactor, type SerializedDeliveryError } from '@leadrelay/core';
import type { ResolvedDestination } from '@leadrelay/config';
import { getDestinationType, type BatchItemResult, type DestinationClient } from '@leadrelay/destinations';
import type { LeadRelayMetrics, Logger } from '@leadrelay/observability';
import { withTimeout, type AttemptEntry, type DeliveryJobData, type DeliveryRecord, type Relay } from '@leadrelay/queue';
import { jitteredBackoff } from './backoff.js';
import { Batcher } from './batcher.js';
import { CallGate } from './call-gate.js';
import { ENDPOINT_STATUSES, REJECTION_STREAK, deadAfterRetriesRemediation, streakFailure } from './rejection-streak.js';

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
  /** How often to look for such jobs (default: lockDurationMs). */
  stalledIntervalMs?: number;
}

/** Events a DestinationWorker emits for alerts. */
export interface DestinationWorkerEvents {
  'destination-paused': [{ destination: string; reason: string; remediation: string }];
  'dead-lettered': [{ leadId: string; destination: string; error: SerializedDeliveryError }];
}

/** Extra room BullMQ gives a stalled job before it is dead: crashed workers must never cost a lead. */
const MAX_STALLED_COUNT = 100;

/** Marks an error with the backoff we chose, so the BullMQ strategy and the recorded nextAttemptAt agree. */
type WithDelay = Error & { retryDelayMs?: number };

/** A stable hash of a destination's settings: a changed config resumes a destination paused for its configuration. */
export function configHash(d: ResolvedDestination): string {
  return createHash('sha256').update(JSON.stringify(d)).digest('hex').slice(0, 16);
}

/**
 * Delivers one destination's queue: takes jobs, calls the destination (alone or in batches) and
 * turns each outcome into what SPEC §4 asks: retry with backoff, wait out throttling without using
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
  private readonly log: Logger;

  constructor(private readonly options: DestinationWorkerOptions) {
    super();
    this.d = options.destination;
    this.log = options.logger.child({ destination: this.d.id });
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
    });
    const batching = def.batching?.(this.d);
    let concurrency = this.d.concurrency;
    let limiter: { max: number; duration: number } | undefined = this.d.rateLimit ? { max: this.d.rateLimit.max, duration: this.d.rateLimit.per } : undefined;
    if (batching) {
      const client = this.client;
      const gate = new CallGate({
        concurrency: this.d.concurrency,
        quota: this.d.rateLimit ? relay.rollingQuota(this.d.id, 'calls', this.d.rateLimit.max, this.d.rateLimit.per) : undefined,
      });
      const send = (leads: Lead[]) => gate.run(() => client.deliverBatch
        ? client.deliverBatch(leads)
        : Promise.all(leads.map((l) => client.deliver(l).then((r): BatchItemResult => ({ ok: true, ...r }), (e): BatchItemResult => ({ ok: false, error: classifyError(e) })))));
      this.batcher = new Batcher(batching, send);
      // Enough jobs in hand to fill every concurrent call; the gate, not BullMQ, limits calls.
      concurrency = Math.min(this.d.concurrency * batching.maxSize, 2000);
      limiter = undefined;
    }
    await this.resumeIfConfigChanged();
    const lockDuration = this.options.lockDurationMs ?? 30_000;
    this.worker = new Worker<DeliveryJobData>(relay.keys.queueName(this.d.id), (job) => this.process(job), {
      connection: relay.redis,
      prefix: relay.keys.bullPrefix,
      concurrency,
      ...(limiter ? { limiter } : {}),
      lockDuration,
      stalledInterval: this.options.stalledIntervalMs ?? lockDuration,
      maxStalledCount: MAX_STALLED_COUNT,
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) =>
          (err as WithDelay | undefined)?.retryDelayMs ?? jitteredBackoff(attemptsMade, this.d.retry),
      },
    });
    this.worker.on('error', (err) => this.log.error({ err: this.redact(err.message) }, 'worker error'));
    this.worker.on('failed', (job) => {
      const record = job?.id ? this.pendingDead.get(job.id) : undefined;
      if (!record) return;
      this.pendingDead.delete(job!.id!);
      record().catch((e: Error) => this.log.error({ err: e.message, leadId: job!.data.lead.id }, 'could not record a dead-lettered delivery'));
    });
  }

  /** A destination paused for its configuration resumes when the configuration it runs with has changed. */
  private async resumeIfConfigChanged(): Promise<void> {
    const health = await this.options.relay.health(this.d.id);
    if (health.paused && health.pause?.by === 'configuration' && health.pause.configHash !== configHash(this.d)) {
      this.log.info('configuration changed since this destination was paused: resuming');
      await this.options.relay.resume(this.d.id);
    }
  }

  private redact(text: string): string {
    return this.options.redactor ? this.options.redactor.redact(text) : text;
  }

  /**
   * BullMQ can hand this worker a job it is still working on (its lock expired during a stall and
   * the job came back): the copy shares the attempt in flight instead of delivering the lead twice.
   */
  private process(job: Job<DeliveryJobData>): Promise<{ remoteId?: string }> {
    const id = job.id!;
    const running = this.inFlight.get(id);
    if (running) return running;
    const attempt = this.attempt(job).finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, attempt);
    return attempt;
  }

  private async attempt(job: Job<DeliveryJobData>): Promise<{ remoteId?: string }> {
    const lead = job.data.lead;
    const attempt = job.attemptsMade + 1;
    const started = performance.now();
    try {
      const result = this.batcher ? await this.batcher.submit(lead) : { ok: true as const, ...(await this.client!.deliver(lead)) };
      if (!result.ok) throw result.error;
      await this.onDelivered(job, attempt, performance.now() - started, result.remoteId, result.warnings);
      return result.remoteId ? { remoteId: result.remoteId } : {};
    } catch (e) {
      throw await this.onFailed(job, attempt, performance.now() - started, classifyError(e));
    }
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

  /** Records the failure and returns what to throw so BullMQ does the right thing with the job. */
  private async onFailed(job: Job<DeliveryJobData>, attempt: number, ms: number, error: DeliveryError): Promise<Error> {
    const { relay, metrics } = this.options;
    const leadId = job.data.lead.id;
    const now = new Date();
    const serialized = { ...error.toJSON(), message: this.redact(error.message), remediation: this.redact(error.remediation) };
    const entry = (outcome: AttemptEntry['outcome']): AttemptEntry => ({
      destination: this.d.id, attempt, at: now.toISOString(), outcome, durationMs: Math.round(ms), error: serialized.message, code: serialized.destinationCode ?? serialized.code,
    });
    const record = (state: DeliveryRecord['state'], extra: Partial<DeliveryRecord> = {}): DeliveryRecord => ({
      state, attempts: attempt, lastError: serialized.message, remediation: serialized.remediation, ...extra,
    });
    metrics.deliveryDuration.observe({ destination: this.d.id }, ms / 1000);
    // Destinations often quote the offending value; customer data is for debug level only (SPEC §6).
    const logLine = { leadId, attempt, durationMs: Math.round(ms), error: scrubCustomerData(serialized.message, job.data.lead), code: serialized.destinationCode ?? serialized.code };
    // The destination's last error is shown without its lead: no customer value it quotes.
    await relay.control(this.d.id).setLastError({ ...serialized, message: logLine.error }, now);

    if (error instanceof ThrottledError) {
      const retryAfterMs = error.retryAfterMs;
      // Waiting for a quota with a known reset is never a failure; open-ended throttling is bounded.
      const waited = (job.data.throttledMs ?? 0) + (error.quotaReset ? 0 : retryAfterMs);
      if (waited <= this.d.retry.maxThrottleWait) {
        const until = new Date(now.getTime() + retryAfterMs);
        await Promise.all([
          job.updateData({ ...job.data, throttledMs: waited }),
          // Holds this destination's queue for every worker; other destinations are untouched.
          relay.queue(this.d.id).rateLimit(Math.max(retryAfterMs, 1)),
          relay.control(this.d.id).setThrottledUntil(until),
          relay.leads.recordAttempt(leadId, this.d.id, record('delayed', { attempts: job.attemptsMade, nextAttemptAt: until.toISOString() }), entry('throttled')),
        ]);
        metrics.deliveries.inc({ destination: this.d.id, outcome: 'throttled' });
        this.log.warn({ ...logLine, outcome: 'throttled', retryAfterMs }, 'delivery attempt');
        return Worker.RateLimitError();
      }
      this.log.warn({ leadId, waitedMs: waited }, 'throttled longer than retry.maxThrottleWait: counting it as a failed attempt');
    }

    if (error.kind === 'configuration') {
      await relay.pause(this.d.id, { by: 'configuration', reason: logLine.error, remediation: serialized.remediation, configHash: configHash(this.d) });
      await relay.leads.recordAttempt(leadId, this.d.id, record('paused', { attempts: job.attemptsMade }), entry('paused'));
      this.log.error({ ...logLine, outcome: 'paused', remediation: serialized.remediation }, 'delivery attempt');
      this.emit('destination-paused', { destination: this.d.id, reason: serialized.message, remediation: serialized.remediation });
      // Back to the (now paused) queue without using an attempt: the lead waits for the fix.
      return Worker.RateLimitError();
    }

    if (error.kind === 'permanent' && error.status !== undefined && ENDPOINT_STATUSES.has(error.status)) {
      const streak = await relay.control(this.d.id).noteRejection(error.status, leadId, REJECTION_STREAK);
      if (streak.length >= REJECTION_STREAK) return this.pauseForStreak(job, serialized, streak, record, entry);
    }

    const exhausted = attempt >= (job.opts.attempts ?? 1);
    // Retry advice ("none needed") stops being true once the lead is dead.
    if (exhausted && error.kind !== 'permanent') serialized.remediation = deadAfterRetriesRemediation(this.d, serialized, attempt);
    const errors = [...(job.data.errors ?? []), { ...serialized, at: now.toISOString(), attempt }].slice(-20);
    await job.updateData({ ...job.data, errors });
    if (error.kind === 'permanent' || exhausted) {
      if (exhausted && error.kind !== 'permanent') await relay.control(this.d.id).setLastError({ ...serialized, message: logLine.error }, now);
      // Recorded once BullMQ has moved the job to the failed set (the 'failed' handler in start()), so "dead" always means replayable.
      this.pendingDead.set(job.id!, async () => {
        await relay.leads.recordAttempt(leadId, this.d.id, record('dead'), entry('dead'));
        metrics.deliveries.inc({ destination: this.d.id, outcome: 'dead' });
        this.log.error({ ...logLine, outcome: 'dead', remediation: serialized.remediation }, 'delivery attempt');
        this.emit('dead-lettered', { leadId, destination: this.d.id, error: serialized });
      });
      return new UnrecoverableError(serialized.message);
    }

    const delay = jitteredBackoff(attempt, this.d.retry);
    const next = new Date(now.getTime() + delay);
    await relay.leads.recordAttempt(leadId, this.d.id, record('retrying', { nextAttemptAt: next.toISOString() }), entry('retrying'));
    metrics.deliveries.inc({ destination: this.d.id, outcome: 'retried' });
    this.log.warn({ ...logLine, outcome: 'retried', retryInMs: delay }, 'delivery attempt');
    const thrown: WithDelay = new Error(serialized.message);
    thrown.retryDelayMs = delay;
    return thrown;
  }

  /**
   * Several different leads in a row got the same endpoint status (404, 410…): the address is wrong
   * for every lead. Pause as a configuration failure, keep this lead, and queue the earlier ones of
   * the streak again (they were dead-lettered one by one) so they wait for the fix too.
   */
  private async pauseForStreak(
    job: Job<DeliveryJobData>, last: SerializedDeliveryError, streak: string[],
    record: (state: DeliveryRecord['state'], extra?: Partial<DeliveryRecord>) => DeliveryRecord, entry: (outcome: AttemptEntry['outcome']) => AttemptEntry,
  ): Promise<Error> {
    const { relay } = this.options;
    const leadId = job.data.lead.id;
    const failure = streakFailure(this.d, { ...last, message: scrubCustomerData(last.message, job.data.lead) }, streak.length);
    const control = relay.control(this.d.id);
    await control.setLastError(failure);
    await relay.pause(this.d.id, { by: 'configuration', reason: failure.message, remediation: failure.remediation, configHash: configHash(this.d) });
    await control.clearRejections();
    await relay.leads.recordAttempt(leadId, this.d.id, { ...record('paused', { attempts: job.attemptsMade }), remediation: failure.remediation }, entry('paused'));
    let requeued = 0;
    for (const other of streak.filter((id) => id !== leadId)) {
      requeued += await relay.replay({ destination: this.d.id, leadId: other }).catch((e: Error) => {
        this.log.error({ err: this.redact(e.message), leadId: other }, 'could not queue a lead of the rejection streak again');
        return 0;
      });
    }
    this.log.error({ leadId, status: last.status, leads: streak.length, requeued, outcome: 'paused', remediation: failure.remediation }, 'same endpoint rejection for several leads: destination paused');
    this.emit('destination-paused', { destination: this.d.id, reason: failure.message, remediation: failure.remediation });
    return Worker.RateLimitError();
  }

  /** Stops taking jobs; active ones get `timeoutMs` to finish, then are released for another worker. */
  async close(timeoutMs = 30_000): Promise<void> {
    if (!this.worker) return;
    const worker = this.worker;
    const closing = (async () => {
      const stopping = worker.close();
      await this.batcher?.drain();
      await stopping;
    })();
    const timedOut = await withTimeout(closing, timeoutMs).then(() => false, () => true);
    if (timedOut) {
      this.log.warn({ timeoutMs }, 'active deliveries did not finish in time: releasing them to other workers');
      await worker.close(true);
    }
    await this.client?.close?.();
  }
}
