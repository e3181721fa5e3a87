import { ThrottledError, type DeliveryError } from '@leadrelay/core';
import { jitteredBackoff, type BackoffOptions } from './backoff.js';

/**
 * The outcome of one delivery attempt. The same words are used everywhere: the
 * `leadrelay_deliveries_total{outcome}` metric, the `outcome` of log lines and timeline entries,
 * and what the CLI and ops pages show.
 */
export type OutcomeKind = 'delivered' | 'retried' | 'throttled' | 'paused' | 'dead';

export const OUTCOME_KINDS: readonly OutcomeKind[] = ['delivered', 'retried', 'throttled', 'paused', 'dead'];

export type DeliveryOutcome =
  /** The destination took the lead. */
  | { kind: 'delivered' }
  /** The destination asked to wait: hold it for every worker until `holdUntil`; no attempt is used. */
  | { kind: 'throttled'; holdUntil: number; throttledSince: number }
  /** A configuration failure: pause the destination; the lead waits, no attempt is used. */
  | { kind: 'paused' }
  /**
   * A failed attempt with attempts left: try again at `retryAt`. `holdUntil` is set when it was a
   * throttle past `retry.maxThrottleWait` (the destination still said wait, so it is still held).
   */
  | { kind: 'retried'; retryAt: number; holdUntil?: number; throttledSince?: number }
  /** Dead-letter: a permanent rejection, or the last attempt failed. */
  | { kind: 'dead'; reason: 'permanent' | 'exhausted'; holdUntil?: number };

/** What decideOutcome needs of the job. */
export interface OutcomeJob {
  /** Attempts used before this one (BullMQ's attemptsMade). */
  attemptsMade: number;
  /** Attempts allowed in all. */
  attempts: number;
  /** When this delivery was first throttled (epoch ms), if it was. */
  throttledSince?: number;
}

/** What decideOutcome needs of the destination. */
export interface OutcomeDestination {
  retry: BackoffOptions & { maxThrottleWait: number };
}

/**
 * Decides what happens after one attempt, from the classified error alone (none = delivered). Pure:
 * the worker applies the result to Redis. Throttling waits do not use attempts; their total is
 * bounded by `retry.maxThrottleWait`, counted in real time from the first throttle of the delivery,
 * except waits for a quota with a known reset (a daily limit), which are never a failure.
 */
export function decideOutcome(error: DeliveryError | undefined, job: OutcomeJob, destination: OutcomeDestination, now: number, random: () => number = Math.random): DeliveryOutcome {
  if (!error) return { kind: 'delivered' };
  const attempt = job.attemptsMade + 1;
  let holdUntil: number | undefined;
  let throttledSince: number | undefined;
  let minimumDelay = 0;
  if (error instanceof ThrottledError) {
    holdUntil = now + error.retryAfterMs;
    throttledSince = job.throttledSince ?? now;
    if (error.quotaReset || holdUntil - throttledSince <= destination.retry.maxThrottleWait) {
      return { kind: 'throttled', holdUntil, throttledSince };
    }
    minimumDelay = error.retryAfterMs;
  }
  if (error.kind === 'configuration') return { kind: 'paused' };
  if (error.kind === 'permanent') return { kind: 'dead', reason: 'permanent' };
  if (attempt >= job.attempts) return { kind: 'dead', reason: 'exhausted', ...(holdUntil ? { holdUntil } : {}) };
  const retryAt = now + Math.max(minimumDelay, jitteredBackoff(attempt, destination.retry, random));
  return { kind: 'retried', retryAt, ...(holdUntil ? { holdUntil, throttledSince } : {}) };
}
