import type { RollingQuota } from '@leadrelay/destinations';

export interface CallGateOptions {
  /** Calls in flight at once from this process. */
  concurrency: number;
  /** Calls allowed per rolling window across all workers (e.g. Marketo 100 / 20 s); none = unlimited. */
  quota?: RollingQuota;
}

/**
 * Admits batch API calls within a concurrency limit and a shared rate limit. For batching
 * destinations the limits apply to calls, not leads, so BullMQ's per-job limiter cannot do it.
 */
export class CallGate {
  private active = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly options: CallGateOptions) {}

  async run<T>(call: () => Promise<T>): Promise<T> {
    if (this.active >= this.options.concurrency) await new Promise<void>((r) => this.waiters.push(r));
    this.active++;
    try {
      await this.takeQuota();
      return await call();
    } finally {
      this.active--;
      this.waiters.shift()?.();
    }
  }

  private async takeQuota(): Promise<void> {
    const quota = this.options.quota;
    if (!quota) return;
    for (;;) {
      const r = await quota.take();
      if (r.ok) return;
      await new Promise((res) => setTimeout(res, Math.min(r.retryAfterMs, 5000)));
    }
  }
}
