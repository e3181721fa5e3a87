import type { RollingQuota } from '../destination.js';

/** A single-process RollingQuota, for `leadrelay check` and unit tests; workers use the Redis one. */
export class MemoryRollingQuota implements RollingQuota {
  private readonly uses: number[] = [];
  constructor(private readonly limit: number, private readonly windowMs: number, private readonly now: () => number = Date.now) {}

  private prune(): void {
    const cutoff = this.now() - this.windowMs;
    while (this.uses.length > 0 && this.uses[0]! <= cutoff) this.uses.shift();
  }

  async take(): Promise<{ ok: true } | { ok: false; retryAfterMs: number }> {
    this.prune();
    if (this.uses.length < this.limit) {
      this.uses.push(this.now());
      return { ok: true };
    }
    return { ok: false, retryAfterMs: this.uses[0]! + this.windowMs - this.now() };
  }

  async remaining(): Promise<number> {
    this.prune();
    return this.limit - this.uses.length;
  }
}
