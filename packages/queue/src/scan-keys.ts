import { Cluster } from 'ioredis';
import type { RedisClient } from './redis-connection.js';

/**
 * Every key matching `pattern`, in batches of up to about `count` (SCAN, never KEYS: Redis keeps
 * answering others meanwhile). On a Cluster every master is scanned: LeadRelay's keys carry one
 * hash tag per destination and per lead shard (spread layout), or one for all (single-slot). A key present for the whole scan is returned at least once.
 * `count` is a hint for the batch size, never below {@link SCAN_STEP}: SCAN's COUNT is how much of the keyspace one
 * trip walks, so a small batch over a Redis shared with other data would take one trip per handful of keys.
 */
/** Keys of the keyspace one SCAN trip walks at the least. */
export const SCAN_STEP = 1000;

export async function* scanKeys(redis: RedisClient, pattern: string, count = 1000): AsyncGenerator<string[]> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', Math.max(count, SCAN_STEP));
      cursor = next;
      if (keys.length > 0) yield keys;
    } while (cursor !== '0');
  }
}
