import type { Logger } from '@leadrelay/observability';
import type { Relay } from '@leadrelay/queue';

/** Dead jobs removed per `Queue.clean` call; the sweep repeats until a call removes fewer. */
const CLEAN_BATCH = 1000;

export interface DeadLetterSweeperOptions {
  relay: Relay;
  logger: Logger;
  /** Destinations whose dead letters are swept (each worker process sweeps the ones it delivers). */
  destinations: string[];
  /** `deadLetters.retention`: a dead letter older than this is deleted. */
  retentionMs: number;
  /** How often to sweep; default a quarter of the retention, between 1 s and 1 h. */
  intervalMs?: number;
}

/**
 * Deletes dead letters older than `deadLetters.retention`. BullMQ only trims failed jobs by age when
 * another job fails (`removeOnFail`), so a quiet destination would keep its dead letters for ever;
 * this sweeps on a timer instead. Several worker processes sweeping at once is harmless.
 */
export class DeadLetterSweeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(private readonly options: DeadLetterSweeperOptions) {}

  start(): void {
    const every = this.options.intervalMs ?? Math.min(3_600_000, Math.max(1_000, Math.floor(this.options.retentionMs / 4)));
    this.timer = setInterval(() => { this.running ??= this.sweep().then(() => undefined).finally(() => { this.running = undefined; }); }, every);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass over every destination; returns how many dead letters were deleted. */
  async sweep(): Promise<number> {
    let removed = 0;
    for (const id of this.options.destinations) {
      try {
        for (;;) {
          const batch = await this.options.relay.queue(id).clean(this.options.retentionMs, CLEAN_BATCH, 'failed');
          removed += batch.length;
          if (batch.length < CLEAN_BATCH) break;
        }
      } catch (e) {
        this.options.logger.warn({ destination: id, err: (e as Error).message }, 'could not delete expired dead letters; will try again');
      }
    }
    if (removed > 0) this.options.logger.info({ removed, retentionMs: this.options.retentionMs }, 'deleted dead letters past deadLetters.retention');
    return removed;
  }
}
