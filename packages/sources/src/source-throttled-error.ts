/** The source asked us to wait (HTTP 429 with Retry-After); the poll is retried after that long. */
export class SourceThrottledError extends Error {
  readonly code = 'LR_SOURCE_THROTTLED';
  constructor(message: string, readonly retryAfterMs: number) {
    super(message);
    this.name = 'SourceThrottledError';
  }
}
