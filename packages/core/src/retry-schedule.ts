/** The default retry horizon: a CRM down from Friday evening to Monday morning loses nothing. */
export const DEFAULT_RETRY_HORIZON_MS = 72 * 3_600_000;

/** Most attempts derived for a horizon (a tiny `maxDelay` would otherwise ask for thousands). */
export const MAX_DERIVED_ATTEMPTS = 1000;

/**
 * The shortest delay before retry number `failedAttempts` (1 after the first failure) can be: the
 * fixed half of the exponential step (`initialDelay` doubling, capped at `maxDelay`).
 */
export function minimumRetryDelay(failedAttempts: number, initialDelay: number, maxDelay: number): number {
  const exponent = Math.min(Math.max(failedAttempts - 1, 0), 40);
  return Math.min(maxDelay, initialDelay * 2 ** exponent) / 2;
}

/**
 * Attempts needed so that, even with the shortest jitter, the retries span at least `horizonMs`
 * from the first attempt to the last.
 */
export function attemptsForHorizon(initialDelay: number, maxDelay: number, horizonMs = DEFAULT_RETRY_HORIZON_MS): number {
  let spanned = 0;
  let attempts = 1;
  while (spanned < horizonMs && attempts < MAX_DERIVED_ATTEMPTS) {
    spanned += Math.max(1, minimumRetryDelay(attempts, initialDelay, maxDelay));
    attempts++;
  }
  return attempts;
}
