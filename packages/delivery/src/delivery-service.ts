import { EventEmitter } from 'node:events';
import { ErrorCodes, type SecretRedactor } from '@leadrelay/core';
import type { LeadRelayConfig } from '@leadrelay/config';
import type { LeadRelayMetrics, Logger } from '@leadrelay/observability';
import { OrphanQueues, Relay, UnknownDestinationError, exposeAuditMetric, exposeQueueMetrics } from '@leadrelay/queue';
import { DeadLetterSweeper } from './dead-letter-sweeper.js';
import { LeadRepairSweeper } from './lead-repair-sweeper.js';
import { DestinationWorker, type DestinationWorkerEvents } from './destination-worker.js';

export interface DeliveryServiceOptions {
  config: LeadRelayConfig;
  logger: Logger;
  metrics: LeadRelayMetrics;
  redactor?: SecretRedactor;
  /** Deliver only these destinations (`worker --only`); default all enabled ones. */
  only?: string[];
  /** See DestinationWorkerOptions.lockDurationMs (default 30 s). */
  lockDurationMs?: number;
  /** See DestinationWorkerOptions.maxStalledCount (default 100). */
  maxStalledCount?: number;
  /** See DestinationWorkerOptions.stalledIntervalMs. */
  stalledIntervalMs?: number;
  /** See LeadRepairSweeperOptions.intervalMs (default `worker.repairEvery`; 0 = never). */
  repairIntervalMs?: number;
  /** See LeadRepairSweeperOptions.graceMs (default 60 s). */
  repairGraceMs?: number;
}

/** Every destination worker of one process, started and stopped together. */
export class DeliveryService extends EventEmitter<DestinationWorkerEvents> {
  readonly relay: Relay;
  readonly workers: DestinationWorker[] = [];
  private sweeper?: DeadLetterSweeper;
  private repairer?: LeadRepairSweeper;

  constructor(private readonly options: DeliveryServiceOptions) {
    super();
    const known = options.config.destinations.map((d) => d.id);
    for (const id of options.only ?? []) if (!known.includes(id)) throw new UnknownDestinationError(id, known);
    this.relay = new Relay(options.config, { role: 'blocking' });
    exposeQueueMetrics(this.relay, options.metrics);
    exposeAuditMetric(this.relay, options.metrics);
  }

  async start(): Promise<void> {
    const { config, only } = this.options;
    for (const d of config.destinations) {
      if (!d.enabled || (only && !only.includes(d.id))) continue;
      const w = new DestinationWorker({
        relay: this.relay, destination: d, logger: this.options.logger, metrics: this.options.metrics, redactor: this.options.redactor,
        placeholder: config.defaults.placeholder, network: config.network, lockDurationMs: this.options.lockDurationMs ?? config.worker.lockDuration,
        maxStalledCount: this.options.maxStalledCount, stalledIntervalMs: this.options.stalledIntervalMs,
      });
      w.on('destination-paused', (e) => this.emit('destination-paused', e));
      w.on('dead-lettered', (e) => this.emit('dead-lettered', e));
      await w.start();
      this.workers.push(w);
    }
    this.sweeper = new DeadLetterSweeper({
      relay: this.relay, logger: this.options.logger, destinations: this.workers.map((w) => w.destinationId), retentionMs: config.deadLetters.retention,
    });
    this.sweeper.start();
    this.repairer = new LeadRepairSweeper({
      relay: this.relay, logger: this.options.logger, intervalMs: this.options.repairIntervalMs ?? config.worker.repairEvery,
      ...(this.options.repairGraceMs === undefined ? {} : { graceMs: this.options.repairGraceMs }),
    });
    this.repairer.start();
    this.options.logger.info({ destinations: this.workers.map((w) => w.destinationId) }, 'delivering');
    await this.warnAboutOrphans();
  }

  /** Queues with leads whose destination is gone from the config (removed, renamed): nothing delivers them. */
  private async warnAboutOrphans(): Promise<void> {
    const orphans = new OrphanQueues(this.relay);
    try {
      for (const o of await orphans.list()) {
        this.options.logger.warn({ queue: o.queue, counts: o.counts, total: o.total, code: ErrorCodes.ORPHAN_QUEUE },
          `queue '${o.queue}' has ${o.total} lead(s) but no destination in the config: move them with \`leadrelay dlq replay --destination ${o.queue} --to <destination>\` or delete them with \`leadrelay purge ${o.queue}\``);
      }
    } catch (e) {
      this.options.logger.warn({ err: (e as Error).message }, 'could not look for queues of destinations no longer in the config');
    } finally {
      await orphans.close();
    }
  }

  /** SIGTERM path: stop taking jobs, give active ones `timeoutMs` in total, then release them. */
  async stop(timeoutMs = this.options.config.worker.shutdownTimeout): Promise<void> {
    await Promise.all([...this.workers.map((w) => w.close(timeoutMs)), this.sweeper?.stop(), this.repairer?.stop()]);
    await this.relay.close();
  }
}
