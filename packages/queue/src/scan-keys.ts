import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './redis-connection.js';

/** Keys of the keyspace one SCAN trip walks at the least. */
export const SCAN_STEP = 1000;

/** How often a Cluster scan starts a node again after its connection closed (a failover), before it gives up. */
const CLUSTER_SCAN_RETRIES = 10;

/**
 * Every key matching `pattern`, in batches of up to about `count` (SCAN, never KEYS: Redis keeps
 * answering others meanwhile). On a Cluster every master is scanned: LeadRelay's keys carry one
 * hash tag per destination and per lead shard (spread layout), or one for all (single-slot). A key present for the
 * whole scan is returned at least once (possibly more often, as SCAN itself may).
 * `count` is a hint for the batch size, never below {@link SCAN_STEP}: SCAN's COUNT is how much of the keyspace one
 * trip walks, so a small batch over a Redis shared with other data would take one trip per handful of keys.
 *
 * A master that fails over mid-scan (its connection closes, or it answers as a replica) is not skipped: the slot
 * map is refreshed and every master not yet scanned to the end, the promoted replica among them, is scanned again
 * from the start.
 */
export async function* scanKeys(redis: RedisClient, pattern: string, count = 1000): AsyncGenerator<string[]> {
  const step = Math.max(count, SCAN_STEP);
  if (!(redis instanceof Cluster)) {
    yield* scanNode(redis, pattern, step);
    return;
  }
  const finished = new Set<string>();
  for (let retry = 0; ; ) {
    const pending = redis.nodes('master').filter((node) => !finished.has(nodeKey(node)));
    if (pending.length === 0) return;
    try {
      for (const node of pending) {
        yield* scanNode(node, pattern, step);
        finished.add(nodeKey(node));
      }
    } catch (error) {
      if (!isFailoverError(error) || ++retry > CLUSTER_SCAN_RETRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * retry));
      await new Promise<void>((resolve) => redis.refreshSlotsCache(() => resolve()));
    }
  }
}

async function* scanNode(node: RedisClient, pattern: string, step: number): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', step);
    cursor = next;
    if (keys.length > 0) yield keys;
  } while (cursor !== '0');
}

function nodeKey(node: Redis): string {
  return `${node.options.host}:${node.options.port}`;
}

/** Errors a master gives while it fails over or after it was demoted: worth refreshing the slot map and trying again. */
function isFailoverError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|LOADING|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN/i.test(message);
}
