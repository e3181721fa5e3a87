import type { Logger } from '@leadrelay/observability';
import { LeadRepair, type Relay } from '@leadrelay/queue';

export interface LeadRepairSweeperOptions {
  relay: Relay;
  logger: Logger;
  /** How often a sweep runs, across every worker process (default 10 min; 0 = never). */
  intervalMs?: number;
  /** A lead written this recently may still be mid-accept: left alone (default 60 s, LeadRepair's). */
  graceMs?: number;
}

/** Default time between repair sweeps: a stranded lead waits at most this long (plus the grace) before it is queued. */
export const DEFAULT_REPAIR_INTERVAL_MS = 10 * 60_000;

/**
 * Runs LeadRepair on a timer, so a lead whose accept stopped midway (an intake killed between writing the
 * lead and queueing it, a Redis failover in between) is queued without anyone running
 * `leadrelay audit --repair`. A lock in Redis, held for one interval, makes one worker process sweep
 * per interval however many run; a sweep that overlaps another is harmless (LeadRepair adds jobs under
 * their deterministic ids).
 */
export class LeadRepairSweeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(private readonly options: LeadRepairSweeperOptions) {}

  start(): void {
    const every = this.options.intervalMs ?? DEFAULT_REPAIR_INTERVAL_MS;
    if (every <= 0) return;
    this.timer = setInterval(() => { this.running ??= this.sweepIfDue(every).finally(() => { this.running = undefined; }); }, every);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async sweepIfDue(everyMs: number): Promise<void> {
    const { relay, logger } = this.options;
    try {
      // Taken for a little less than the interval: the next tick of whichever process comes first sweeps again.
      const mine = await relay.redis.set(relay.keys.maintenanceLock('lead-repair'), String(process.pid), 'PX', Math.max(1, everyMs - 100), 'NX');
      if (mine !== 'OK') return;
      const report = await new LeadRepair(relay, { ...(this.options.graceMs === undefined ? {} : { graceMs: this.options.graceMs }) }).run();
      if (report.repaired.length > 0) {
        logger.warn({ repaired: report.repaired.length, leads: report.repaired.map((r) => r.leadId).slice(0, 20), scanned: report.scanned },
          'queued leads whose accept had stopped midway (an intake stopped between storing and queueing them)');
      }
    } catch (e) {
      logger.warn({ err: (e as Error).message }, 'lead repair sweep failed; will try again');
    }
  }
}
