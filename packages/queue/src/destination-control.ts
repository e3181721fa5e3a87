import type { Queue } from 'bullmq';
import type { SerializedDeliveryError } from '@leadrelay/core';
import type { KeySpace } from './key-space.js';
import type { RedisClient } from './redis-connection.js';

/** Why a destination is paused: by an operator, or by LeadRelay after a configuration failure. */
export interface PauseInfo {
  by: 'operator' | 'configuration';
  reason: string;
  remediation?: string;
  at: string;
  /** Hash of the destination's settings when it was paused: a changed config resumes it. */
  configHash?: string;
}

export interface DestinationHealth {
  paused: boolean;
  pause?: PauseInfo;
  throttledUntil?: string;
  lastError?: SerializedDeliveryError & { at: string };
}

/**
 * Pause, resume, throttle and last-error state of one destination, shared by every process.
 * Pausing is BullMQ's own queue pause (workers stop fetching; waiting leads stay) plus our reason.
 */
export class DestinationControl {
  constructor(private readonly redis: RedisClient, private readonly keys: KeySpace, readonly destinationId: string, private readonly queue: Queue) {}

  private get key(): string {
    return this.keys.destination(this.destinationId);
  }

  async pause(info: PauseInfo): Promise<void> {
    // The reason first: whoever sees the queue paused can always say why.
    await this.redis.hset(this.key, 'pause', JSON.stringify(info));
    await this.queue.pause();
  }

  async resume(): Promise<void> {
    await this.redis.hdel(this.key, 'pause');
    await this.queue.resume();
  }

  /** Until when this destination's queue is held for throttling (set by the worker with the limiter). */
  async setThrottledUntil(until: Date): Promise<void> {
    await this.redis.hset(this.key, 'throttledUntil', until.toISOString());
  }

  async setLastError(error: SerializedDeliveryError, at = new Date()): Promise<void> {
    await this.redis.hset(this.key, 'lastError', JSON.stringify({ ...error, at: at.toISOString() }));
  }

  async health(): Promise<DestinationHealth> {
    const [paused, fields] = await Promise.all([this.queue.isPaused(), this.redis.hgetall(this.key)]);
    const throttledUntil = fields.throttledUntil && Date.parse(fields.throttledUntil) > Date.now() ? fields.throttledUntil : undefined;
    return {
      paused,
      ...(paused && fields.pause ? { pause: JSON.parse(fields.pause) as PauseInfo } : {}),
      ...(throttledUntil ? { throttledUntil } : {}),
      ...(fields.lastError ? { lastError: JSON.parse(fields.lastError) as DestinationHealth['lastError'] } : {}),
    };
  }
}
