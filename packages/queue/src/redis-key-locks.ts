import { randomBytes } from 'node:crypto';
import type { RedisClient } from './redis-connection.js';

/** SET NX PX for each key; returns 1/0 per key. Every key is one destination's, so one slot (see KeySpace.keyLock). */
const ACQUIRE = `
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then out[i] = 1 else out[i] = 0 end
end
return out
`;

/** Deletes each key still holding this lease's token (a lock that expired and was taken by another is left alone). */
const RELEASE = `
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 1
`;

/** Extends the TTL of each key still holding this lease's token. */
const RENEW = `
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('PEXPIRE', key, ARGV[2]) end
end
return 1
`;

/**
 * Exclusive key holds shared by every worker process (e.g. one Marketo lookup value in flight at a
 * time). A key is a Redis string holding the lease's random token with a TTL that the holder renews
 * every third of it while the lease is open: a live holder keeps its keys however long its call runs,
 * and a holder that dies frees them within one TTL (not after the longest call could last). Atomic per
 * call through Lua scripts.
 */
export class RedisKeyLocks {
  /** `keyOf(k)` is the Redis key of lock key `k` (KeySpace.keyLock). */
  constructor(private readonly redis: RedisClient, private readonly keyOf: (key: string) => string) {}

  async tryAcquire(keys: string[], ttlMs: number): Promise<{ held: ReadonlySet<string>; release(): Promise<void> }> {
    const unique = [...new Set(keys)];
    if (unique.length === 0) return { held: new Set(), release: async () => undefined };
    const token = randomBytes(12).toString('hex');
    const redisKeys = unique.map(this.keyOf);
    const got = (await this.redis.eval(ACQUIRE, redisKeys.length, ...redisKeys, token, Math.max(1, Math.ceil(ttlMs)))) as number[];
    const held = new Set(unique.filter((_, i) => Number(got[i]) === 1));
    const heldKeys = unique.filter((k) => held.has(k)).map(this.keyOf);
    const ttl = Math.max(1, Math.ceil(ttlMs));
    // A renewal that fails (Redis briefly away) is retried at the next tick; the TTL bounds the damage.
    const renewal = heldKeys.length === 0 ? undefined
      : setInterval(() => { this.redis.eval(RENEW, heldKeys.length, ...heldKeys, token, ttl).catch(() => undefined); }, Math.max(1, Math.floor(ttl / 3)));
    renewal?.unref();
    return {
      held,
      release: async () => {
        clearInterval(renewal);
        if (heldKeys.length > 0) await this.redis.eval(RELEASE, heldKeys.length, ...heldKeys, token);
      },
    };
  }
}
