import type { KeySpace } from './key-space.js';
import type { RedisClient } from './redis-connection.js';
import { scanKeys } from './scan-keys.js';

/** Where a job is in its queue, as the audit and the removed-destination report count it. */
export type PendingState = 'waiting' | 'delayed' | 'active' | 'paused';
export type JobPlace = PendingState | 'failed';

/** Every job id of one destination's queue by place, read in one MULTI so no job is seen twice or missed while it moves. */
export interface QueueSnapshot {
  destination: string;
  paused: boolean;
  /** Job id → where it is. Completed jobs are not listed: the lead's record says delivered. */
  jobs: Map<string, JobPlace>;
}

/**
 * Reads a queue's sets straight from BullMQ's keys (`wait`, `paused`, `active`, `delayed`, `prioritized`,
 * `waiting-children`, `failed` and the `meta` pause flag) in one transaction: one round trip per queue
 * instead of one per job. Waiting jobs of a paused queue count as `paused`.
 */
export async function readQueueSnapshot(redis: RedisClient, keys: KeySpace, destination: string): Promise<QueueSnapshot> {
  const base = `${keys.bullPrefix(keys.queueName(destination))}:${keys.queueName(destination)}`;
  const replies = await redis.multi()
    .hget(`${base}:meta`, 'paused')
    .lrange(`${base}:wait`, 0, -1)
    .lrange(`${base}:paused`, 0, -1)
    .zrange(`${base}:prioritized`, 0, -1)
    .zrange(`${base}:waiting-children`, 0, -1)
    .lrange(`${base}:active`, 0, -1)
    .zrange(`${base}:delayed`, 0, -1)
    .zrange(`${base}:failed`, 0, -1)
    .exec();
  if (!replies) throw new Error(`could not read the queue of '${destination}' (transaction aborted)`);
  const values = replies.map(([err, v]) => {
    if (err) throw err;
    return v;
  });
  const paused = values[0] === '1';
  const jobs = new Map<string, JobPlace>();
  const put = (ids: unknown, place: JobPlace) => { for (const id of ids as string[]) jobs.set(id, place); };
  const waiting: JobPlace = paused ? 'paused' : 'waiting';
  put(values[1], waiting);
  put(values[2], 'paused');
  put(values[3], waiting);
  put(values[4], waiting);
  put(values[5], 'active');
  put(values[6], 'delayed');
  put(values[7], 'failed');
  return { destination, paused, jobs };
}

/** Ids of every destination that has a BullMQ queue under this prefix, configured or not. */
export async function queuesInRedis(redis: RedisClient, keys: KeySpace): Promise<string[]> {
  const found = new Set<string>();
  for await (const batch of scanKeys(redis, keys.queueMetaPattern())) {
    for (const key of batch) {
      // A job's own keys can end in `:meta` too when its lead id does; queue names are destination ids.
      const id = keys.queueOfMetaKey(key);
      if (id) found.add(id);
    }
  }
  return [...found].sort();
}
