import type { RedisClient } from '@leadrelay/queue';

/** Unlocks only when the lock is still ours (a poll that outlived its lock must not free another's). */
const UNLOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

/** A held poll lock, renewed while the poll runs. */
export class PollLock {
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly redis: RedisClient, private readonly key: string, private readonly token: string, ttlMs: number) {
    this.timer = setInterval(() => {
      void this.redis.eval(RENEW, 1, this.key, this.token, String(ttlMs)).catch(() => undefined);
    }, Math.max(100, Math.floor(ttlMs / 3)));
    this.timer.unref();
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.eval(UNLOCK, 1, this.key, this.token).catch(() => undefined);
  }
}
