import type { KeySpace } from './key-space.js';
import type { RedisClient } from './redis-connection.js';

/**
 * Run just before a lead's job is added, when the lead's record is new: a job under the same
 * (deterministic) id may have outlived the record — a dead letter kept for `deadLetters.retention`, a
 * delivered job for up to an hour — and BullMQ would ignore the add, leaving a `queued` record no
 * worker will ever take. So:
 * - a dead job is removed, so the add that follows queues the lead afresh (`requeue`);
 * - a delivered job stays; the add is skipped and the record says delivered (`delivered`), unless it
 *   already holds a delivered record with more detail.
 * KEYS: job hash, job logs, failed set, completed set, and the lead hash when it shares their slot
 * (else the caller writes the record). ARGV: job id, the record's field (`d:<destination>`).
 */
export const FINISHED_JOB_SCRIPT = `
if redis.call('ZSCORE', KEYS[4], ARGV[1]) then
  if KEYS[5] then
    local current = redis.call('HGET', KEYS[5], ARGV[2])
    local ok, record = pcall(cjson.decode, current or '')
    if not (ok and type(record) == 'table' and record.state == 'delivered') then
      local attempts = tonumber(redis.call('HGET', KEYS[1], 'atm') or '1') or 1
      redis.call('HSET', KEYS[5], ARGV[2], cjson.encode({state = 'delivered', attempts = attempts}))
    end
  end
  return 'delivered'
end
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('DEL', KEYS[1], KEYS[2])
  return 'requeue'
end
return ''
`;

/** What FINISHED_JOB_SCRIPT found under a job id: delivered (skip the add), a dead job removed, or nothing finished. */
export type FinishedJob = 'delivered' | 'requeue' | '';

/** KEYS 1–4 of FINISHED_JOB_SCRIPT for one lead at one destination, and its ARGV. */
export function finishedJobCall(keys: KeySpace, destinationId: string, leadId: string): { keys: string[]; args: string[] } {
  const queue = keys.queueName(destinationId);
  const jobId = keys.jobId(destinationId, leadId);
  return {
    keys: [keys.queueKey(queue, jobId), keys.queueKey(queue, `${jobId}:logs`), keys.queueKey(queue, 'failed'), keys.queueKey(queue, 'completed')],
    args: [jobId, `d:${destinationId}`],
  };
}

type ScriptedRedis = RedisClient & { leadrelayFinishedJob(...args: string[]): Promise<FinishedJob> };

/** FINISHED_JOB_SCRIPT on its own (the step-by-step accept), with the lead hash passed when it shares the queue's slot. */
export async function clearFinishedJob(redis: RedisClient, keys: KeySpace, destinationId: string, leadId: string): Promise<FinishedJob> {
  if (!('leadrelayFinishedJob' in redis)) redis.defineCommand('leadrelayFinishedJob', { lua: FINISHED_JOB_SCRIPT });
  const call = finishedJobCall(keys, destinationId, leadId);
  const lead = keys.lead(leadId);
  const withLead = keys.sameSlot(lead, call.keys[0]!) ? [...call.keys, lead] : call.keys;
  return (redis as ScriptedRedis).leadrelayFinishedJob(String(withLead.length), ...withLead, ...call.args);
}
