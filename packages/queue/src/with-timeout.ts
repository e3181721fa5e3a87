import { ErrorCodes } from '@leadrelay/core';

/** Redis did not answer in time (a hung server or a network partition, rather than a refused connection). */
export class RedisTimeoutError extends Error {
  readonly code = ErrorCodes.REDIS_TIMEOUT;
  constructor(readonly timeoutMs: number) {
    super(`Redis did not answer within ${timeoutMs} ms`);
    this.name = 'RedisTimeoutError';
  }
}

/**
 * Rejects with RedisTimeoutError when `promise` takes longer than `ms`. The fail-fast connection
 * already errors at once while Redis is down; this bounds the hung-server case, so a client gets a
 * 503 to retry instead of a request that never ends. A late result is harmless: accept is idempotent.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  // One promise and one timer per call (no Promise.race): this is on every request's path.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new RedisTimeoutError(ms)), ms);
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e: unknown) => { clearTimeout(timer); reject(e); });
  });
}
