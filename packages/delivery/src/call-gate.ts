import { ThrottledError } from '@leadrelay/core';
import type { RollingQuota } from '@leadrelay/destinations';

export interface CallGateOptions {
  /** Calls in flight at once from this process. */
  concurrency: number;
  /** Calls allowed per rolling window across all workers (e.g. Marketo 100 / 20 s); none = unlimited. */
  quota?: RollingQuota;
  /** The end of a hold on the destination (a Retry-After another worker got), if it is held now: no call meanwhile. */
  heldUntil?: () => Promise<Date | undefined>;
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
      const held = await this.options.heldUntil?.();
      if (held) throw new ThrottledError(`the destination asked to wait until ${held.toISOString()}; no call is made before then`, held.getTime() - Date.now());
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
