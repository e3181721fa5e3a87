import type { Job } from 'bullmq';
import type { Logger } from '@leadrelay/observability';
import type { DeliveryJobData, Relay } from '@leadrelay/queue';
import type { QueueWaitingTooLongData } from './alert.js';
import type { Alerts } from './alerts.js';

export interface QueueWaitMonitorOptions {
  relay: Relay;
  alerts: Alerts;
  logger: Logger;
  /** Default `alerts.queueWaitThreshold` (15 min). */
  thresholdMs?: number;
  /** How often to look (default 30 s, or the threshold when that is shorter). */
  intervalMs?: number;
  /** Destinations to watch (default every enabled one, whichever worker delivers it: a destination no worker serves is exactly what this catches). */
  destinations?: string[];
  now?: () => number;
}

/** One destination's oldest waiting lead, as a check saw it. */
export interface QueueWaitFinding {
  destination: string;
  oldestLeadId: string;
  waitingSince: string;
  waitedMs: number;
  waiting: number;
  overThreshold: boolean;
  /** Whether this check raised the alert (false when another check or process already did in this threshold period). */
  alerted: boolean;
}

/**
 * Alerts when a destination's oldest waiting lead has waited longer than `alerts.queueWaitThreshold`, and
 * on the same timer reads each destination's state for the alerts a state change raises (`destination-failing`,
 * `destination-resumed`, `destination-recovered`, `queue-recovered`: see Alerts) and sends the dead-letter
 * summaries due. Waiting too long: no worker is running for it, or it delivers slower than leads arrive. Paused destinations are
 * skipped (their leads wait on purpose, and the pause had its own alert). At most one alert per
 * destination per threshold period, across every process that runs a monitor.
 *
 * BullMQ does not record when a job re-entered the wait list, so "waiting since" is the latest of:
 * the job's creation, its last attempt's start, its last recorded failure and the lead's
 * `nextAttemptAt` (when a retry was due). A replayed lead counts from its last failure.
 */
export class QueueWaitMonitor {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private readonly thresholdMs: number;
  private readonly now: () => number;

  constructor(private readonly options: QueueWaitMonitorOptions) {
    this.thresholdMs = options.thresholdMs ?? options.relay.config.alerts.queueWaitThreshold;
    this.now = options.now ?? Date.now;
  }

  get intervalMs(): number {
    return this.options.intervalMs ?? Math.max(1000, Math.min(30_000, this.thresholdMs));
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // A slow Redis must not stack checks on top of each other.
      if (this.running) return;
      this.running = this.check().catch((e: Error) => this.options.logger.warn({ err: e.message }, 'queue wait check failed')).finally(() => { this.running = undefined; });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Stops checking; waits up to `timeoutMs` for a check under way (a check stuck on an unreachable Redis is left behind). */
  async stop(timeoutMs = 2000): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    if (!this.running) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running, new Promise((r) => { timer = setTimeout(r, timeoutMs); })]);
    clearTimeout(timer);
  }

  /** Looks at every watched destination once and raises the alerts due; returns what it saw. */
  async check(): Promise<QueueWaitFinding[]> {
    const { relay } = this.options;
    const ids = this.options.destinations ?? relay.config.destinations.filter((d) => d.enabled).map((d) => d.id);
    const findings: QueueWaitFinding[] = [];
    for (const id of ids) {
      try {
        const f = await this.checkDestination(id);
        if (f) findings.push(f);
      } catch (e) {
        this.options.logger.warn({ destination: id, err: (e as Error).message }, 'queue wait check failed for a destination');
      }
    }
    return findings;
  }

  private async checkDestination(id: string): Promise<QueueWaitFinding | undefined> {
    const { relay, alerts } = this.options;
    const queue = relay.queue(id);
    // Dead-letter summaries whose window ended, also of a paused destination (their process may have died).
    await alerts.flushDeadLetters(id);
    const health = await relay.health(id);
    // A paused queue's leads are "waiting" too, but on purpose.
    if (health.paused) return undefined;
    // Resumed before recovered: a resume is said even when the first delivery comes in the same interval.
    await alerts.destinationResumed(id, health);
    await alerts.destinationRecovered(id, health);
    await alerts.destinationFailing(id, health);
    // Ascending: the wait list's tail, the job the next worker takes, is the one waiting longest.
    const [oldest] = await queue.getJobs(['wait'], 0, 0, true);
    if (!oldest) {
      await alerts.queueRecovered(id, 0, this.thresholdMs);
      return undefined;
    }
    const since = await this.waitingSince(id, oldest);
    const now = this.now();
    const waitedMs = Math.max(0, now - since);
    const overThreshold = waitedMs > this.thresholdMs;
    const leadId = oldest.data.lead.id;
    const waiting = await queue.getWaitingCount();
    let alerted = false;
    if (overThreshold && (await alerts.firstWithin(id, 'queue-waiting-too-long', this.thresholdMs))) {
      const data: QueueWaitingTooLongData = {
        destination: id, destinationType: relay.destination(id).type, state: health.throttledUntil ? 'throttled' : 'running',
        oldestLeadId: leadId, waitingSince: new Date(since).toISOString(), waitedMs, thresholdMs: this.thresholdMs, waiting,
        ...(health.lastError ? { lastError: health.lastError.message } : {}),
      };
      await alerts.queueWaitingTooLong(data);
      alerted = true;
    } else if (!overThreshold) {
      await alerts.queueRecovered(id, waiting, this.thresholdMs);
    }
    return { destination: id, oldestLeadId: leadId, waitingSince: new Date(since).toISOString(), waitedMs, waiting, overThreshold, alerted };
  }

  private async waitingSince(destination: string, job: Job<DeliveryJobData>): Promise<number> {
    const now = this.now();
    const record = await this.options.relay.leads.getRecord(job.data.lead.id, destination).catch(() => undefined);
    const lastFailure = job.data.errors?.at(-1)?.at;
    const marks = [job.timestamp, job.processedOn ?? 0, lastFailure ? Date.parse(lastFailure) : 0];
    const due = record?.nextAttemptAt ? Date.parse(record.nextAttemptAt) : NaN;
    if (Number.isFinite(due) && due <= now) marks.push(due);
    return Math.max(...marks.filter((m) => Number.isFinite(m)));
  }
}
