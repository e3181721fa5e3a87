import { Queue, Worker, UnrecoverableError, type Job } from 'bullmq';
import type { LeadRelayConfig, ResolvedSource } from '@leadrelay/config';
import { destinationMatches } from '@leadrelay/config';
import type { Lead } from '@leadrelay/core';
import type { Logger } from '@leadrelay/observability';
import type { Relay } from '@leadrelay/queue';
import type { Registry } from 'prom-client';
import { EventEmitter } from 'node:events';
import type { PullSource, PullSourceFactory } from './pull-source.js';
import { SourceAuthError } from './source-auth-error.js';
import { SourceMetrics } from './source-metrics.js';
import { sourceState } from './source-health.js';
import type { PollStreak, SourceHealth, SourceState } from './source-state.js';
import { SourceThrottledError } from './source-throttled-error.js';
import { timestampMs } from './source-timestamps.js';
import { reconcile, type ReconcileReport } from './reconciler.js';
import { ReferralWriteBack } from './referral-write-back.js';
import type { ReferralsSource } from './referrals-source.js';

/** Queue of every source's polls. `_` never starts a destination id, so it never clashes with a destination queue. */
export const SOURCE_QUEUE = '_sources';

export interface PollJobData {
  source: string;
}


export interface SourceServiceOptions {
  config: LeadRelayConfig;
  relay: Relay;
  logger: Logger;
  registry: Registry;
  createSource: PullSourceFactory;
  /** Poll attempts before a failed poll is given up (the next scheduled poll starts over). Default 5. */
  attempts?: number;
  /** First retry delay of a failed poll, doubled each time. Default 5 s. */
  retryDelayMs?: number;
  /** Poll lock lifetime, renewed while a poll runs; a crashed poller's lock frees after it. Default 30 s. */
  lockMs?: number;
  /** Leads accepted at once within a page. Default 32. */
  acceptConcurrency?: number;
  /** Schedule polls (default true); false only processes polls others schedule or `pollNow` adds. */
  schedule?: boolean;
  /**
   * Failed polls in a row (each retry counts) after which `source-failing` is emitted, once per streak;
   * the next successful poll emits `source-recovered`. Default 3. A poll that pauses the source emits `source-paused` instead.
   */
  failingAfter?: number;
}

export interface SourceServiceEvents {
  'source-paused': [{ source: string; reason: string; remediation: string }];
  /** Polls failed `failingAfter` times in a row without pausing the source. */
  'source-failing': [{ source: string; failures: number; failingSince: string; lastError: string; remediation: string }];
  /** The first successful poll after a `source-failing`. */
  'source-recovered': [{ source: string; failures: number; failingSince: string; recoveredAt: string }];
  'reconciliation-gap': [ReconcileReport];
}

/** How often, and over how long a period, the scheduled reconciliation runs. */
const RECONCILE_EVERY_MS = 86_400_000;
const RECONCILE_PERIOD_MS = 7 * 86_400_000;

/** Marks a throttled poll's error with the delay the source asked for. */
type WithDelay = Error & { retryDelayMs?: number };

/**
 * Polls every enabled source as BullMQ jobs from one job scheduler per source, so any number of
 * worker processes share the schedule; a Redis lock per source keeps one poll of it running at a
 * time. Each page's leads are accepted exactly as webhook leads are before its watermark is committed.
 */
export class SourceService extends EventEmitter<SourceServiceEvents> {
  readonly queue: Queue<PollJobData>;
  private worker?: Worker<PollJobData>;
  private readonly metrics: SourceMetrics;
  private readonly readers = new Map<string, Promise<PullSource>>();
  private readonly log: Logger;
  /** Referral write-backs, when a referrals source has `writeBack`. */
  readonly writeBack?: ReferralWriteBack;

  constructor(private readonly options: SourceServiceOptions) {
    super();
    const { relay } = options;
    this.log = options.logger.child({ component: 'sources' });
    this.queue = new Queue<PollJobData>(SOURCE_QUEUE, { connection: relay.redis, prefix: relay.keys.bullPrefix(SOURCE_QUEUE) });
    this.queue.on('error', () => { /* surfaced by the command that failed */ });
    this.metrics = new SourceMetrics(options.registry, () => this.lagSeconds());
    if (this.sources.some((s) => s.type === 'referrals' && s.enabled && s.writeBack)) {
      this.writeBack = new ReferralWriteBack({
        relay, logger: options.logger,
        sources: () => this.sources.filter((s): s is Extract<ResolvedSource, { type: 'referrals' }> => s.type === 'referrals'),
        client: async (s) => ((await this.reader(s)) as ReferralsSource).client,
      });
    }
  }

  private get sources(): ResolvedSource[] {
    return this.options.config.sources;
  }

  source(id: string): ResolvedSource {
    const s = this.sources.find((x) => x.id === id);
    if (!s) throw new Error(`unknown source '${id}' (configured: ${this.sources.map((x) => x.id).join(', ') || 'none'})`);
    return s;
  }

  state(id: string): SourceState {
    return sourceState(this.options.relay, id);
  }

  async start(): Promise<void> {
    const { relay } = this.options;
    if (this.options.schedule ?? true) await this.schedule();
    this.worker = new Worker<PollJobData>(SOURCE_QUEUE, (job) => this.process(job), {
      connection: relay.redis, prefix: relay.keys.bullPrefix(SOURCE_QUEUE), concurrency: Math.max(1, this.sources.length),
      lockDuration: this.options.lockMs ?? 30_000,
      settings: { backoffStrategy: (attemptsMade: number, _t?: string, err?: Error) => (err as WithDelay | undefined)?.retryDelayMs ?? (this.options.retryDelayMs ?? 5000) * 2 ** (attemptsMade - 1) },
    });
    this.worker.on('error', (err) => this.log.error({ err: err.message }, 'source worker error'));
    await this.writeBack?.start();
  }

  /** One job scheduler per enabled source; schedulers of removed or disabled sources are dropped. */
  private async schedule(): Promise<void> {
    const wanted = new Set<string>();
    for (const s of this.sources) {
      if (!s.enabled) continue;
      const id = `poll.${s.id}`;
      wanted.add(id);
      await this.queue.upsertJobScheduler(id, { every: s.pollEvery }, { name: 'poll', data: { source: s.id }, opts: this.jobOptions() });
    }
    if (wanted.size > 0) {
      wanted.add('reconcile');
      await this.queue.upsertJobScheduler('reconcile', { every: RECONCILE_EVERY_MS }, { name: 'reconcile', data: { source: '' }, opts: this.jobOptions() });
    }
    for (const existing of await this.queue.getJobSchedulers()) {
      const key = existing.key ?? existing.id;
      if (key && !wanted.has(key)) await this.queue.removeJobScheduler(key);
    }
  }

  private jobOptions() {
    return { attempts: this.options.attempts ?? 5, backoff: { type: 'leadrelay-source' }, removeOnComplete: { count: 200 }, removeOnFail: { count: 500 } };
  }

  /** Adds a poll now (CLI, tests); it waits for a running poll of the same source like any other. */
  async pollNow(sourceId: string): Promise<Job<PollJobData>> {
    this.source(sourceId);
    return this.queue.add('poll', { source: sourceId }, { ...this.jobOptions(), jobId: `now.${sourceId}.${Date.now().toString(36)}` });
  }

  private reader(s: ResolvedSource): Promise<PullSource> {
    let r = this.readers.get(s.id);
    if (!r) {
      r = this.options.createSource(s, this.options.relay);
      r.catch(() => this.readers.delete(s.id));
      this.readers.set(s.id, r);
    }
    return r;
  }

  /** The daily reconciliation: a gap raises the `reconciliation-gap` alert. */
  async reconcileNow(since = new Date(Date.now() - RECONCILE_PERIOD_MS)): Promise<ReconcileReport> {
    const report = await reconcile(this.options.relay, this.options.createSource, since);
    if (report.gap) {
      this.log.warn({ missing: report.missing.length, since: report.since }, 'reconciliation found missing leads');
      this.emit('reconciliation-gap', report);
    }
    return report;
  }

  private async process(job: Job<PollJobData>): Promise<{ leads: number; skipped?: string }> {
    if (job.name === 'reconcile') {
      const report = await this.reconcileNow();
      return { leads: 0, ...(report.gap ? { skipped: `${report.missing.length} missing` } : {}) };
    }
    const s = this.sources.find((x) => x.id === job.data.source);
    if (!s || !s.enabled) return { leads: 0, skipped: 'not configured or disabled' };
    const state = this.state(s.id);
    if (await state.paused()) {
      this.metrics.polls.inc({ source: s.id, outcome: 'paused' });
      return { leads: 0, skipped: 'paused' };
    }
    const lock = await state.lock(this.options.lockMs ?? 30_000);
    if (!lock) {
      this.metrics.polls.inc({ source: s.id, outcome: 'busy' });
      return { leads: 0, skipped: 'another poll of this source is running' };
    }
    const now = new Date();
    try {
      const found = await this.poll(s, state, now);
      const streak = await state.polled('ok', now);
      this.metrics.polls.inc({ source: s.id, outcome: 'ok' });
      if (streak.ended?.alerted) {
        this.log.info({ source: s.id, failures: streak.ended.failures }, 'source polls again');
        this.emit('source-recovered', { source: s.id, failures: streak.ended.failures, failingSince: streak.ended.failingSince, recoveredAt: now.toISOString() });
      }
      if (found > 0) this.log.info({ source: s.id, leads: found }, 'source polled');
      return { leads: found };
    } catch (e) {
      const err = e as Error;
      const streak = await state.polled('failed', now, err.message).catch(() => undefined);
      this.metrics.polls.inc({ source: s.id, outcome: 'failed' });
      if (!(err instanceof SourceAuthError)) await this.noteFailing(s, state, streak, err, now);
      if (err instanceof SourceAuthError) {
        await state.pause({ reason: err.message, remediation: err.remediation, at: now.toISOString() });
        this.log.error({ source: s.id, err: err.message, remediation: err.remediation }, 'source paused');
        this.emit('source-paused', { source: s.id, reason: err.message, remediation: err.remediation });
        throw new UnrecoverableError(err.message);
      }
      this.log.warn({ source: s.id, err: err.message, attempt: job.attemptsMade + 1 }, 'poll failed');
      const thrown: WithDelay = new Error(err.message);
      if (err instanceof SourceThrottledError) thrown.retryDelayMs = err.retryAfterMs;
      throw thrown;
    } finally {
      await lock.release();
    }
  }

  /** `source-failing` once per streak of failed polls, when it reaches `failingAfter` (≥: a crash between counting and telling is caught up next time). */
  private async noteFailing(s: ResolvedSource, state: SourceState, streak: PollStreak | undefined, err: Error, now: Date): Promise<void> {
    if (!streak || streak.failedInRow < (this.options.failingAfter ?? 3)) return;
    try {
      if (!(await state.markFailingAlerted(now))) return;
      this.log.warn({ source: s.id, failures: streak.failedInRow, err: err.message }, 'source is failing');
      this.emit('source-failing', {
        source: s.id, failures: streak.failedInRow, failingSince: streak.failedSince ?? now.toISOString(), lastError: err.message,
        remediation: err instanceof SourceThrottledError
          ? 'None needed if it passes: the source asked LeadRelay to slow down and polls are retried as it says. If it lasts, lower the poll frequency (`pollEvery`).'
          : 'None needed if it passes: polls are retried and the next scheduled poll starts over from the watermark (no lead is lost). If it lasts, check that the source is up and reachable from the worker; `leadrelay stats` shows its last error.',
      });
    } catch (e) {
      this.log.warn({ source: s.id, err: (e as Error).message }, 'could not note the failing source');
    }
  }

  /** Reads every page newer than the watermark; returns how many new leads were accepted. */
  private async poll(s: ResolvedSource, state: SourceState, now: Date): Promise<number> {
    const reader = await this.reader(s);
    const from = (await state.watermark()) ?? (await state.initWatermark(reader.initialWatermark(s.start, now)));
    let accepted = 0;
    for await (const page of reader.pages(from?.ts ? from : null, now)) {
      for (const bad of page.invalid) this.log.warn({ source: s.id, row: bad.id, problem: bad.problem }, 'source row is not a lead: skipped');
      if (page.invalid.length) this.metrics.leadsFound.inc({ source: s.id, outcome: 'invalid' }, page.invalid.length);
      accepted += await this.acceptAll(s, page.leads);
      await state.commit(page.watermark, page.caughtUpTo, page.leads.length);
    }
    return accepted;
  }

  private async acceptAll(s: ResolvedSource, leads: Lead[]): Promise<number> {
    const taken = leads.filter((l) => destinationMatches({ enabled: true, match: s.match }, l));
    if (taken.length < leads.length) this.metrics.leadsFound.inc({ source: s.id, outcome: 'filtered' }, leads.length - taken.length);
    let accepted = 0;
    const width = this.options.acceptConcurrency ?? 32;
    for (let i = 0; i < taken.length; i += width) {
      const chunk = taken.slice(i, i + width);
      const results = await Promise.all(chunk.map((lead) => this.options.relay.accept(lead, { clientId: true, origin: `${s.type}:${s.id}` })));
      results.forEach((r) => {
        this.metrics.leadsFound.inc({ source: s.id, outcome: r.mergedFrom ? 'merged' : r.duplicate ? 'duplicate' : 'accepted' });
        if (!r.duplicate) accepted++;
      });
      // Queued before the page's watermark is committed, so a crash cannot lose a write-back. Duplicates too: a
      // poll that died between accepting a chunk and queueing its write-backs left them unqueued (one job per lead).
      if (s.type === 'referrals' && s.writeBack) {
        await this.writeBack?.enqueue(s, chunk.filter((l) => typeof l.extra?.referralId === 'string')
          .map((l) => ({ leadId: l.id, referralId: l.extra!.referralId as string })));
      }
    }
    return accepted;
  }

  async health(): Promise<SourceHealth[]> {
    return Promise.all(this.sources.map((s) => this.state(s.id).health(s.type, s.enabled)));
  }

  private async lagSeconds(): Promise<Record<string, number | undefined>> {
    const out: Record<string, number | undefined> = {};
    for (const h of await this.health()) {
      const at = h.caughtUpTo ?? h.watermark?.ts;
      out[h.source] = at ? Math.max(0, (Date.now() - timestampMs(at)) / 1000) : undefined;
    }
    return out;
  }

  async resume(sourceId: string): Promise<void> {
    this.source(sourceId);
    await this.state(sourceId).resume();
  }

  async close(): Promise<void> {
    await this.writeBack?.close();
    await this.worker?.close();
    await this.queue.close();
    for (const r of this.readers.values()) await r.then((x) => x.close?.(), () => undefined);
  }
}
