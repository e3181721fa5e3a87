import { createRequire } from 'node:module';
import { Job, type JobsOptions, type Queue } from 'bullmq';
import type { Lead } from '@leadrelay/core';
import type { DeliveryJobData, JobTrace } from './delivery-state.js';
import { FINISHED_JOB_SCRIPT } from './finished-job.js';
import { BEGIN_SCRIPT, COMMIT_SCRIPT, parseBeginResult, type BeginResult, type LeadStore, type ScriptCall } from './lead-store.js';
import type { RedisClient } from './redis-connection.js';

/** A destination's queue, the options its delivery job is added with, and FINISHED_JOB_SCRIPT's keys and args for it. */
export interface FanOutTarget {
  queue: Queue;
  opts: JobsOptions;
  finished: { keys: string[]; args: string[] };
}

/**
 * A lead identity to write once the lead is accepted (`dedupe` in the config): its key, how long it
 * holds, and whether it replaces a holder that is gone (`force`) or is only taken when free.
 */
export interface IdentityClaim {
  key: string;
  windowMs: number;
  force: boolean;
}

/**
 * What the single-trip accept answers: `identity` when another lead holds the lead's identity (nothing
 * was written), BEGIN_SCRIPT's outcome when it was not `new`, else whether this call accepted the lead first.
 */
export type SingleTripResult = Exclude<BeginResult, { outcome: 'new' }> | { outcome: 'accepted'; first: boolean } | { outcome: 'identity'; holder: string };

/** BullMQ's own insertion script for a plain (not delayed, not prioritized, no parent) job: what `Queue.add` runs. */
interface BullScript {
  name: string;
  content: string;
  keys: number;
}

/** The internal hook BullMQ's flow producer uses to put a job insert on any client or transaction. */
interface JobInserter {
  addJobToTransaction(client: { runCommand(name: string, args: unknown[]): Promise<unknown> }, job: unknown, jobId: string | undefined, parentKeyOpts: object): Promise<unknown>;
}

const require = createRequire(import.meta.url);

function loadBullScript(): BullScript | undefined {
  try {
    const mod = require('bullmq/dist/cjs/scripts/addStandardJob-9.js') as { addStandardJob?: BullScript };
    return mod.addStandardJob?.keys === 9 ? mod.addStandardJob : undefined;
  } catch {
    return undefined;
  }
}

/**
 * BEGIN_SCRIPT, FINISHED_JOB_SCRIPT and BullMQ's job insertion once per destination, and COMMIT_SCRIPT in one Lua script, so
 * accepting a new lead costs one Redis round trip instead of three. Each piece runs as a local
 * function with its own KEYS and ARGV, unchanged, so the steps and their order are exactly those of
 * the three-trip path (and as safe to retry after a failure midway); only the trips are saved.
 * The lead identity, when one is claimed, is read first (another holder: nothing is written) and set
 * last, once the lead is accepted.
 * KEYS: begin's (the lead hash first), commit's, the identity key when claimed, then 4 + 9 per
 * destination (FINISHED_JOB_SCRIPT's, BullMQ's). ARGV: #begin keys, #commit keys, #destinations,
 * #begin args, #commit args, identity claim ('' none, 'free' when free, 'force'), its window ms, lead
 * id, begin's args, commit's args, then 2 + 3 per destination.
 */
function composeScript(bull: BullScript): string {
  return `
local function leadrelayBegin(KEYS, ARGV)
${BEGIN_SCRIPT}
end
local function leadrelayCommit(KEYS, ARGV)
${COMMIT_SCRIPT}
end
local function leadrelayFinishedJob(KEYS, ARGV)
${FINISHED_JOB_SCRIPT}
end
local function bullmqAddStandardJob(KEYS, ARGV)
${bull.content}
end
local function slice(t, from, n)
  local out = {}
  for i = 1, n do out[i] = t[from + i - 1] end
  return out
end
local kb, kc, nd, ab, ac = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local claim, leadId = ARGV[6], ARGV[8]
local k, a = kb + kc + 1, 9 + ab + ac
local identity = nil
if claim ~= '' then
  identity = KEYS[k]
  k = k + 1
  if claim == 'free' then
    local holder = redis.call('GET', identity)
    if holder and holder ~= leadId then return {'identity', holder} end
  end
end
local begun = leadrelayBegin(slice(KEYS, 1, kb), slice(ARGV, 9, ab))
if begun[1] ~= 'new' then return begun end
for i = 1, nd do
  local fk = slice(KEYS, k, 4)
  fk[5] = KEYS[1]
  local finished = leadrelayFinishedJob(fk, slice(ARGV, a, 2))
  k = k + 4
  a = a + 2
  if finished ~= 'delivered' then
    local id = bullmqAddStandardJob(slice(KEYS, k, ${bull.keys}), slice(ARGV, a, 3))
    if type(id) == 'number' and id < 0 then return redis.error_reply('LEADRELAY_ADD_JOB ' .. id) end
  end
  k = k + ${bull.keys}
  a = a + 3
end
local first = leadrelayCommit(slice(KEYS, kb + 1, kc), slice(ARGV, 9 + ab, ac))
if claim == 'force' then redis.call('SET', identity, leadId, 'PX', ARGV[7])
elseif claim == 'free' then redis.call('SET', identity, leadId, 'PX', ARGV[7], 'NX') end
return {'accepted', first}
`;
}

type ScriptedRedis = RedisClient & { leadrelayAcceptOneTrip(...args: (string | Buffer)[]): Promise<unknown> };

/**
 * Accepting a lead in one round trip on a single Redis (`redis.url`). Not used on a Redis Cluster,
 * where a lead's record and its destinations' queues need not share a slot, nor when this BullMQ
 * version's insertion script or hook is not the one this was written against: `available` is false
 * and the Relay takes the three-trip path.
 */
export class SingleTripAccept {
  private readonly bull = loadBullScript();

  constructor(private readonly redis: RedisClient, private readonly leads: LeadStore) {
    if (this.available && !('leadrelayAcceptOneTrip' in redis)) {
      redis.defineCommand('leadrelayAcceptOneTrip', { lua: composeScript(this.bull!) });
    }
  }

  get available(): boolean {
    return this.bull !== undefined && !this.redis.isCluster;
  }

  /**
   * Runs begin, every job insert and commit in one script. Undefined when a job would not be a plain
   * insert (BullMQ would use another script): the caller then takes the three-trip path.
   */
  async accept(lead: Lead, receivedAt: Date, matched: string[], skipped: string[], targets: FanOutTarget[], dedupe?: { key: string; windowMs: number }, identity?: IdentityClaim, origin?: string, trace?: JobTrace): Promise<SingleTripResult | undefined> {
    const inserts: unknown[][] = [];
    // As Queue.add does: a queue's first job waits until the queue has written its meta (BullMQ version, event limits).
    for (const t of targets) await queueMeta(t.queue);
    const data: DeliveryJobData = trace ? { lead, ...trace } : { lead };
    for (const t of targets) {
      const args = insertArgs(t, data);
      if (!args) return undefined;
      inserts.push(args);
    }
    const begin: ScriptCall = this.leads.beginCall(lead, receivedAt, matched, skipped, dedupe?.key, origin);
    const commit: ScriptCall = this.leads.commitCall(lead.id, receivedAt, dedupe, { lead, receivedAt });
    const keys: string[] = [...begin.keys, ...commit.keys, ...(identity ? [identity.key] : [])];
    const claim = identity ? (identity.force ? 'force' : 'free') : '';
    const argv: (string | Buffer)[] = [String(begin.keys.length), String(commit.keys.length), String(inserts.length), String(begin.args.length), String(commit.args.length),
      claim, String(identity?.windowMs ?? ''), lead.id, ...begin.args, ...commit.args];
    inserts.forEach((insert, i) => {
      keys.push(...targets[i]!.finished.keys, ...(insert.slice(0, 9) as string[]));
      argv.push(...targets[i]!.finished.args, ...(insert.slice(9) as (string | Buffer)[]));
    });
    const reply = await (this.redis as ScriptedRedis).leadrelayAcceptOneTrip(String(keys.length), ...keys, ...argv) as unknown[];
    if (reply[0] === 'accepted') return { outcome: 'accepted', first: Number(reply[1]) === 1 };
    if (reply[0] === 'identity') return { outcome: 'identity', holder: String(reply[1]) };
    return parseBeginResult(reply) as SingleTripResult;
  }
}

function queueMeta(queue: Queue): Promise<unknown> {
  return (queue as unknown as { queueMetaInitialized?: Promise<unknown> }).queueMetaInitialized ?? queue.waitUntilReady();
}

/**
 * The 9 keys and 3 arguments BullMQ's `Queue.add` would send for this job, built by BullMQ itself:
 * its insert hook is handed a client that only records the command. Undefined when BullMQ would not
 * use its plain insertion script for these options (a delay, a priority).
 */
function insertArgs(target: FanOutTarget, data: unknown): unknown[] | undefined {
  const { queue } = target;
  const opts: JobsOptions = { ...(queue as unknown as { jobsOpts?: JobsOptions }).jobsOpts, ...target.opts };
  const backend = (queue as unknown as { getBackend?(): unknown }).getBackend?.() as Partial<JobInserter> | undefined;
  if (typeof backend?.addJobToTransaction !== 'function') return undefined;
  const job = new Job(queue, 'deliver', data, opts, opts.jobId);
  const json = job.asJSON();
  (job as unknown as { validateOptions(json: unknown): void }).validateOptions(json);
  let recorded: { name: string; args: unknown[] } | undefined;
  const recorder = { runCommand: (name: string, args: unknown[]) => { recorded = { name, args }; return Promise.resolve(job.id); } };
  void backend.addJobToTransaction(recorder, json, job.id, {}).catch(() => undefined);
  if (!recorded || !recorded.name.startsWith('addStandardJob:') || recorded.args.length !== 12) return undefined;
  return recorded.args;
}
