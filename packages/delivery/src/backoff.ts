export interface BackoffOptions {
  /** Delay before the first retry, in ms. */
  initialDelay: number;
  /** Cap on any one delay, in ms. */
  maxDelay: number;
}

/**
 * Exponential backoff with "equal jitter": half the exponential delay is fixed, half random, so
 * retries of many leads failing together spread out but never come back sooner than half the step.
 * `failedAttempts` is 1 after the first failure.
 */
export function jitteredBackoff(failedAttempts: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(failedAttempts - 1, 0), 40);
  const step = Math.min(options.maxDelay, options.initialDelay * 2 ** exponent);
  return Math.round(step / 2 + random() * (step / 2));
}
