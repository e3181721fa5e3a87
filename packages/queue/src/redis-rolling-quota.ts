import { randomBytes } from 'node:crypto';
import type { RedisClient } from './redis-connection.js';

/** Removes uses older than the window, then takes one if the limit allows; else returns ms until the oldest frees up. */
const TAKE = `
local key, now, window, limit, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local used = redis.call('ZCARD', key)
if used < limit then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
  return -1
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
`;

/**
 * A rolling-window budget in a Redis sorted set, shared by every worker process: Salesforce
 * Web-to-Lead's 500 per 24 h, batch-call rate limits. Atomic through one Lua script.
 */
export class RedisRollingQuota {
  constructor(private readonly redis: RedisClient, private readonly key: string, readonly limit: number, readonly windowMs: number, private readonly now: () => number = Date.now) {}

  async take(): Promise<{ ok: true } | { ok: false; retryAfterMs: number }> {
    const r = Number(await this.redis.eval(TAKE, 1, this.key, this.now(), this.windowMs, this.limit, `${this.now()}-${randomBytes(6).toString('hex')}`));
    return r < 0 ? { ok: true } : { ok: false, retryAfterMs: r };
  }

  async remaining(): Promise<number> {
    const now = this.now();
    await this.redis.zremrangebyscore(this.key, '-inf', now - this.windowMs);
    return Math.max(0, this.limit - (await this.redis.zcard(this.key)));
  }
}
