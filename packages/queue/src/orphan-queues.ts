import { Queue, type Job } from 'bullmq';
import { ErrorCodes } from '@leadrelay/core';
import type { DeliveryJobData } from './delivery-state.js';
import { queuesInRedis, readQueueSnapshot, type JobPlace } from './queue-snapshot.js';
import type { Relay } from './relay.js';

/** A queue in Redis with leads in it but no destination of that id in the config (removed or renamed). */
export interface OrphanQueue {
  queue: string;
  /** Jobs by place; `failed` are its dead letters. */
  counts: Record<JobPlace, number>;
  total: number;
}

export interface OrphanMoveResult {
  from: string;
  to: string;
  /** Jobs added to `to` (or that would be, with dryRun). */
  moved: number;
  /** Leads `to` already had (accepted for it too): only dropped from `from`, not queued twice. */
  alreadyThere: number;
  /** Active jobs still locked by a running worker (an old version?): left, run the command again later. */
  inFlight: number;
  dryRun: boolean;
}

export interface OrphanPurgeResult {
  queue: string;
  counts: Record<JobPlace, number>;
  /** Jobs removed (0 with dryRun). */
  removed: number;
  dryRun: boolean;
}

/** The command named a queue that is a configured destination, or no queue at all. */
export class NotAnOrphanQueueError extends Error {
  readonly code = ErrorCodes.UNKNOWN_DESTINATION;
  constructor(message: string) {
    super(message);
    this.name = 'NotAnOrphanQueueError';
  }
}

const PLACES: JobPlace[] = ['waiting', 'delayed', 'active', 'paused', 'failed'];

/**
 * KEYS: lead hash. ARGV: the orphan queue, the destination that takes its place ('' for none), that
 * destination's record JSON. Replaces the orphan in the lead's destinations (unless the new one is there
 * already) and moves its delivery record, so status and audit follow the lead. Returns 0 without a lead.
 */
const RETARGET_LEAD = `
local raw = redis.call('HGET', KEYS[1], 'destinations')
if not raw then return 0 end
local ok, dests = pcall(cjson.decode, raw)
if not ok or type(dests) ~= 'table' then return 0 end
local out = {}
local has = false
for _, d in ipairs(dests) do
  if d == ARGV[2] then has = true end
  if d ~= ARGV[1] then table.insert(out, d) end
end
if ARGV[2] ~= '' and not has then
  table.insert(out, ARGV[2])
  redis.call('HSET', KEYS[1], 'd:' .. ARGV[2], ARGV[3])
end
redis.call('HSET', KEYS[1], 'destinations', #out == 0 and '[]' or cjson.encode(out))
redis.call('HDEL', KEYS[1], 'd:' .. ARGV[1])
return 1
`;

/**
 * Queues whose destination was removed from the config or renamed: nothing delivers them, so they are
 * named (validate, worker start, stats), and can be moved to another destination or purged. Works in both
 * key layouts: queues are found by their BullMQ `meta` key (KeySpace.queueMetaPattern).
 */
export class OrphanQueues {
  private readonly queues = new Map<string, Queue<DeliveryJobData>>();

  constructor(private readonly relay: Relay) {}

  /** Every orphan queue that holds at least one job, by id. */
  async list(): Promise<OrphanQueue[]> {
    const configured = new Set(this.relay.config.destinations.map((d) => d.id));
    const out: OrphanQueue[] = [];
    for (const id of await queuesInRedis(this.relay.redis, this.relay.keys)) {
      if (configured.has(id)) continue;
      const found = await this.count(id);
      if (found.total > 0) out.push(found);
    }
    return out;
  }

  /**
   * Moves every job of orphan queue `from` (waiting, delayed, paused, dead, and active ones no worker
   * holds) to configured destination `to`, with fresh attempts. The new job is added before the old one
   * is removed, so an interrupted move loses nothing and can be run again.
   */
  async move(from: string, to: string, options: { dryRun?: boolean } = {}): Promise<OrphanMoveResult> {
    const dryRun = options.dryRun ?? false;
    await this.assertOrphan(from);
    const target = this.relay.destination(to);
    const result: OrphanMoveResult = { from, to, moved: 0, alreadyThere: 0, inFlight: 0, dryRun };
    const snapshot = await readQueueSnapshot(this.relay.redis, this.relay.keys, from);
    const queue = this.queue(from);
    for (const [jobId, place] of snapshot.jobs) {
      const job = await queue.getJob(jobId);
      if (!job) continue;
      if (place === 'active' && await this.locked(from, jobId)) {
        result.inFlight++;
        continue;
      }
      const leadId = job.data.lead.id;
      const listed = await this.relay.leads.acceptedDestinations(leadId);
      if (listed?.includes(to)) {
        result.alreadyThere++;
        if (!dryRun) await this.retarget(leadId, from, '', job);
        continue;
      }
      result.moved++;
      if (dryRun) continue;
      await this.relay.queue(to).add('deliver', { lead: job.data.lead }, this.relay.jobOptions(target, leadId));
      await this.retarget(leadId, from, to, job);
    }
    return result;
  }

  /** Deletes orphan queue `id` with every job in it, and drops it from its leads. */
  async purge(id: string, options: { dryRun?: boolean } = {}): Promise<OrphanPurgeResult> {
    const dryRun = options.dryRun ?? false;
    await this.assertOrphan(id);
    const { counts, total } = await this.count(id);
    if (dryRun) return { queue: id, counts, removed: 0, dryRun };
    const snapshot = await readQueueSnapshot(this.relay.redis, this.relay.keys, id);
    const queue = this.queue(id);
    for (const jobId of snapshot.jobs.keys()) {
      const job = await queue.getJob(jobId);
      if (job) await this.retargetLead(job.data.lead.id, id, '');
    }
    await queue.obliterate({ force: true });
    await this.relay.redis.del(this.relay.keys.destination(id));
    return { queue: id, counts, removed: total, dryRun };
  }

  /** Dead letters of an orphan queue are still listed, replayed (`move`) or purged by the dlq commands. */
  async isOrphan(id: string): Promise<boolean> {
    if (this.relay.config.destinations.some((d) => d.id === id)) return false;
    return (await queuesInRedis(this.relay.redis, this.relay.keys)).includes(id);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
  }

  private async assertOrphan(id: string): Promise<void> {
    if (this.relay.config.destinations.some((d) => d.id === id)) {
      throw new NotAnOrphanQueueError(`'${id}' is a destination of the config, not an orphan queue: use \`leadrelay dlq\` for its dead letters`);
    }
    if (!(await this.isOrphan(id))) throw new NotAnOrphanQueueError(`no queue '${id}' in Redis (under redis.prefix ${this.relay.config.redis.prefix})`);
  }

  private async count(id: string): Promise<OrphanQueue> {
    const snapshot = await readQueueSnapshot(this.relay.redis, this.relay.keys, id);
    const counts = Object.fromEntries(PLACES.map((p) => [p, 0])) as Record<JobPlace, number>;
    for (const place of snapshot.jobs.values()) counts[place]++;
    return { queue: id, counts, total: snapshot.jobs.size };
  }

  private async locked(queue: string, jobId: string): Promise<boolean> {
    return (await this.relay.redis.exists(this.relay.keys.queueKey(this.relay.keys.queueName(queue), `${jobId}:lock`))) === 1;
  }

  private async retarget(leadId: string, from: string, to: string, job: Job<DeliveryJobData>): Promise<void> {
    await this.retargetLead(leadId, from, to);
    await job.remove();
  }

  private async retargetLead(leadId: string, from: string, to: string): Promise<void> {
    await this.relay.redis.eval(RETARGET_LEAD, 1, this.relay.keys.lead(leadId), from, to, JSON.stringify({ state: 'queued', attempts: 0 }));
  }

  private queue(id: string): Queue<DeliveryJobData> {
    let q = this.queues.get(id);
    if (!q) {
      q = new Queue<DeliveryJobData>(this.relay.keys.queueName(id), { connection: this.relay.redis, prefix: this.relay.keys.bullPrefix(this.relay.keys.queueName(id)) });
      q.on('error', () => { /* surfaced by the command that failed */ });
      this.queues.set(id, q);
    }
    return q;
  }
}
