import type { RedisClient } from './redis-connection.js';

export interface WriteCoalescerOptions {
  /** Most commands held back for one socket write; the batch is written as soon as it is full. Default 8. */
  batch?: number;
}

interface CorkableStream {
  cork(): void;
  uncork(): void;
}

/** Default of WriteCoalescerOptions.batch: measured on the intake bench (2, 4, 8, 12, 16), 8 answered the most requests. */
const DEFAULT_BATCH = 8;

/**
 * Lets the commands of requests handled in one event-loop turn leave in one socket write instead of
 * one each: on a loopback or a VM a write costs more than the command (ioredis writes every command
 * on its own; its auto-pipelining would batch them too, but it builds an ioredis Pipeline per batch,
 * which copies every script BullMQ and LeadRelay define). `hold()` before sending a command corks
 * the connection's socket; it is uncorked once `batch` commands wait (the next one starts a new batch), and at the latest when the turn
 * ends (setImmediate), so a command waits for no later request. Batches stay small so Redis works on
 * the first commands while the process is still reading requests (one large batch per turn left both
 * sides waiting for each other). Only for a single Redis: a Cluster spreads commands over several
 * sockets.
 */
export class WriteCoalescer {
  private readonly batch: number;
  private corked?: CorkableStream;
  private held = 0;

  constructor(private readonly redis: RedisClient, options: WriteCoalescerOptions = {}) {
    this.batch = options.batch ?? DEFAULT_BATCH;
  }

  /** Call right before sending a command on the connection. */
  hold(): void {
    if (this.corked) {
      if (this.held < this.batch) {
        this.held++;
        return;
      }
      // A full batch goes out; this command starts the next one.
      this.release(this.corked);
    }
    // While not ready, ioredis keeps commands in its own offline queue: nothing to hold.
    if (this.redis.isCluster || this.redis.status !== 'ready') return;
    const stream = (this.redis as unknown as { stream?: CorkableStream }).stream;
    if (!stream) return;
    stream.cork();
    this.corked = stream;
    this.held = 1;
    setImmediate(() => { if (this.corked === stream) this.release(stream); });
  }

  private release(stream: CorkableStream): void {
    this.corked = undefined;
    stream.uncork();
  }
}
