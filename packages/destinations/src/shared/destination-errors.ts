import {
  InvalidAuthenticationError, InvalidConfigurationError, PayloadValidationError, RetryableError, ThrottledError,
  parseRetryAfter, type DeliveryError,
} from '@leadrelay/core';

/** Used when a 429/503 carries no usable Retry-After. */
export const DEFAULT_THROTTLE_MS = 30_000;

export interface HttpFailure {
  status: number;
  /** The destination's own message, already free of secrets. */
  message: string;
  retryAfter?: string | string[] | number | null;
  destinationCode?: string;
}

/**
 * The generic HTTP reading of a failure (README: How delivery behaves): 429 and 503-with-Retry-After throttle;
 * 408 and 5xx are transient; 401/403 are configuration; any other 4xx is permanent.
 * Destinations with richer error bodies classify those first and fall back to this.
 */
export function classifyHttpFailure(f: HttpFailure, what: string): DeliveryError {
  const detail = `${what} answered HTTP ${f.status}${f.message ? `: ${f.message}` : ''}`;
  const common = { status: f.status, destinationCode: f.destinationCode ?? String(f.status) };
  const retryAfterMs = parseRetryAfter(f.retryAfter);
  if (f.status === 429 || (f.status === 503 && retryAfterMs !== undefined)) {
    return new ThrottledError(detail, retryAfterMs ?? DEFAULT_THROTTLE_MS, common);
  }
  if (f.status === 408 || f.status >= 500) return new RetryableError(detail, common);
  if (f.status === 401) {
    return new InvalidAuthenticationError(detail, { ...common, remediation: `${what} refused our credentials: check the secret or key configured for this destination, then \`leadrelay resume <destination>\`.` });
  }
  if (f.status === 403) {
    return new InvalidConfigurationError(detail, { ...common, remediation: `${what} refused access: check that the configured identity has permission to create leads there, then \`leadrelay resume <destination>\`.` });
  }
  return new PayloadValidationError(detail, common);
}

/** Network-level failures (reset, refused, DNS, timeout) are transient. */
export function networkFailure(what: string, code: string | undefined, message: string): DeliveryError {
  return new RetryableError(`${what} could not be reached${code ? ` (${code})` : ''}: ${message}`, { destinationCode: code });
}

/**
 * `work`, or a transient failure as soon as `signal` aborts (the worker's shutdown deadline), whichever comes first.
 * The worker then releases the delivery to waiting with no attempt used; the abandoned call ends with the process.
 */
export function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return work;
  const stopped = () => new RetryableError(`${what}: call abandoned, the worker is shutting down`, { destinationCode: 'ABORTED' });
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(stopped());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(stopped());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}
