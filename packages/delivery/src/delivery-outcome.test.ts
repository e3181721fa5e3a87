import { describe, expect, it } from 'vitest';
import { InvalidAuthenticationError, PayloadValidationError, RetryableError, ThrottledError } from '@leadrelay/core';
import { decideOutcome } from './delivery-outcome.js';

const H = 3_600_000;
const destination = { retry: { initialDelay: 1000, maxDelay: 10_000, maxThrottleWait: 24 * H } };
const job = (attemptsMade = 0, throttledSince?: number) => ({ attemptsMade, attempts: 3, ...(throttledSince === undefined ? {} : { throttledSince }) });
const now = 1_000_000_000_000;
const half = () => 0.5;

describe('decideOutcome', () => {
  it('delivered without an error; a permanent rejection is dead at once; configuration pauses', () => {
    expect(decideOutcome(undefined, job(), destination, now)).toEqual({ kind: 'delivered' });
    expect(decideOutcome(new PayloadValidationError('bad'), job(), destination, now)).toEqual({ kind: 'dead', reason: 'permanent' });
    expect(decideOutcome(new InvalidAuthenticationError('401'), job(2), destination, now)).toEqual({ kind: 'paused' });
  });

  it('retries transient failures with jittered backoff until the last attempt', () => {
    expect(decideOutcome(new RetryableError('503'), job(0), destination, now, half)).toEqual({ kind: 'retried', retryAt: now + 750 });
    expect(decideOutcome(new RetryableError('503'), job(1), destination, now, half)).toEqual({ kind: 'retried', retryAt: now + 1500 });
    expect(decideOutcome(new RetryableError('503'), job(2), destination, now)).toEqual({ kind: 'dead', reason: 'exhausted' });
  });

  it('holds the destination for as long as Retry-After says, without using an attempt, from the first throttle', () => {
    expect(decideOutcome(new ThrottledError('429', 5 * H), job(2), destination, now)).toEqual({ kind: 'throttled', holdUntil: now + 5 * H, throttledSince: now });
    // The budget is wall-clock time since the first throttle, not the sum of the waits claimed.
    const since = now - 20 * H;
    expect(decideOutcome(new ThrottledError('429', 3 * H), job(0, since), destination, now)).toEqual({ kind: 'throttled', holdUntil: now + 3 * H, throttledSince: since });
    expect(decideOutcome(new ThrottledError('429', 5 * H), job(0, since), destination, now, half)).toEqual({ kind: 'retried', retryAt: now + 5 * H, holdUntil: now + 5 * H, throttledSince: since });
    expect(decideOutcome(new ThrottledError('429', 5 * H), job(2, since), destination, now)).toEqual({ kind: 'dead', reason: 'exhausted', holdUntil: now + 5 * H });
  });

  it('a wait for a quota with a known reset (a daily limit) is never a failure', () => {
    const since = now - 1000 * H;
    expect(decideOutcome(new ThrottledError('daily limit', 20 * H, { quotaReset: true }), job(0, since), destination, now))
      .toEqual({ kind: 'throttled', holdUntil: now + 20 * H, throttledSince: since });
  });
});
