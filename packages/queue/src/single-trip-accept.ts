import { createRequire } from 'node:module';
import { Job, type JobsOptions, type Queue } from 'bullmq';
import type { Lead } from '@leadrelay/core';
import type { JobTrace } from './delivery-state.js';
import { FINISHED_JOB_SCRIPT } from './finished-job.js';
import { BEGIN_SCRIPT, COMMIT_SCRIPT, parseBeginResult, type BeginResult, type LeadStore, type ScriptCall } from './lead-store.js';
import type { RedisClient } from './redis-connection.js';
import { WriteCoalescer } from './write-coalescer.js';

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
 * The keys of BullMQ's insertion script, in its order, as suffixes of the queue's key prefix: the
 * script builds them itself (one argument per destination instead of nine). Checked against the
 * keys BullMQ records for each queue before a lead takes this path (`fitsTemplate`).
 */
const BULL_KEY_SUFFIXES = ['wait', 'paused', 'meta', 'id', 'completed', 'delayed', 'active', 'events', 'marker'] as const;

/**
 * BEGIN_SCRIPT, FINISHED_JOB_SCRIPT and BullMQ's job insertion once per destination, and COMMIT_SCRIPT in one Lua script, so
 * accepting a new lead costs one Redis round trip instead of three. Each piece runs as a local
 * function with its own KEYS and ARGV, unchanged, so the steps and their order are exactly those of
 * the three-trip path (and as safe to retry after a failure midway); only the trips are saved.
 * The lead identity, when one is claimed, is read first (another holder: nothing is written) and set
 * last, once the lead is accepted.
 * What every destination's call shares is sent once and put together here: its queue keys come from
 * the queue's key prefix (FINISHED_JOB_SCRIPT's and BullMQ's), and the job's data is
 * `{"lead":<the lead JSON BEGIN_SCRIPT stores>` + the trace fields + `}`, byte for byte what
 * JSON.stringify would send.
 * KEYS: begin's (the lead hash first), commit's, the identity key when claimed. ARGV[1]: a JSON array of
 * strings (one argument instead of some thirty: ioredis spends more on each argument than Redis on decoding
 * them together): #begin keys, #commit keys, #destinations, #begin args, #commit args, identity claim ('' none,
 * 'free' when free, 'force'), its window ms, lead id, the job data's trace fields (',"traceparent":…' or ''),
 * begin's args, commit's args, then per destination: queue key prefix (ending in ':'), job id, record field.
 * ARGV[2…]: per destination, BullMQ's packed arguments and packed options (binary, so not in the JSON).
 */
function composeScript(bull: BullScript): string {
  const bullKeys = BULL_KEY_SUFFIXES.map((suffix) => `qp .. '${suffix}'`).join(', ');
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
local H = cjson.decode(ARGV[1])
local kb, kc, nd, ab, ac = tonumber(H[1]), tonumber(H[2]), tonumber(H[3]), tonumber(H[4]), tonumber(H[5])
local claim, leadId = H[6], H[8]
local identity = nil
if claim ~= '' then
  identity = KEYS[kb + kc + 1]
  if claim == 'free' then
    local holder = redis.call('GET', identity)
    if holder and holder ~= leadId then return {'identity', holder} end
  end
end
local beginArgs = slice(H, 10, ab)
local begun = leadrelayBegin(slice(KEYS, 1, kb), beginArgs)
if begun[1] ~= 'new' then return begun end
local data = '{"lead":' .. beginArgs[2] .. H[9] .. '}'
local a = 10 + ab + ac
for i = 1, nd do
  local qp, jobId = H[a], H[a + 1]
  local finished = leadrelayFinishedJob({qp .. jobId, qp .. jobId .. ':logs', qp .. 'failed', qp .. 'completed', KEYS[1]}, {jobId, H[a + 2]})
  if finished ~= 'delivered' then
    local id = bullmqAddStandardJob({${bullKeys}}, {ARGV[2 * i], data, ARGV[2 * i + 1]})
    if type(id) == 'number' and id < 0 then return redis.error_reply('LEADRELAY_ADD_JOB ' .. id) end
  end
  a = a + 3
end
local first = leadrelayCommit(slice(KEYS, kb + 1, kc), slice(H, 10 + ab, ac))
if claim == 'force' then redis.call('SET', identity, leadId, 'PX', H[7])
elseif claim == 'free' then redis.call('SET', identity, leadId, 'PX', H[7], 'NX') end
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
  /** Accepts of requests handled together share socket writes. */
  private readonly writes: WriteCoalescer;
  private readonly inserts = new InsertArgsCache();

  constructor(private readonly redis: RedisClient, private readonly leads: LeadStore) {
    this.writes = new WriteCoalescer(redis);
    if (this.available && !('leadrelayAcceptOneTrip' in redis)) {
      redis.defineCommand('leadrelayAcceptOneTrip', { lua: composeScript(this.bull!) });
    }
  }

  get available(): boolean {
    return this.bull !== undefined && !this.redis.isCluster;
  }

  /**
   * Runs begin, every job insert and commit in one script. Undefined when a job would not be a plain
   * insert (BullMQ would use another script), or its queue's keys are not the ones the script builds:
   * the caller then takes the three-trip path.
   */
  async accept(lead: Lead, receivedAt: Date, matched: string[], skipped: string[], targets: FanOutTarget[], dedupe?: { key: string; windowMs: number }, identity?: IdentityClaim, origin?: string, trace?: JobTrace): Promise<SingleTripResult | undefined> {
    const perDestination: string[] = [];
    const packed: Buffer[] = [];
    for (const t of targets) {
      // As Queue.add does: a queue's first job waits until the queue has written its meta (BullMQ version, event limits).
      if (!this.ready.has(t.queue)) await queueMeta(t.queue);
      const insert = this.inserts.args(t);
      const prefix = insert && this.queuePrefix(t, insert);
      if (!prefix) return undefined;
      perDestination.push(prefix, t.finished.args[0]!, t.finished.args[1]!);
      packed.push(insert[9] as Buffer, insert[11] as Buffer);
    }
    const begin: ScriptCall = this.leads.beginCall(lead, receivedAt, matched, skipped, dedupe?.key, origin);
    const commit: ScriptCall = this.leads.commitCall(lead.id, receivedAt, dedupe, { lead, receivedAt });
    const keys: string[] = [...begin.keys, ...commit.keys, ...(identity ? [identity.key] : [])];
    const claim = identity ? (identity.force ? 'force' : 'free') : '';
    const traceFields = trace ? JSON.stringify(trace).slice(1, -1) : '';
    const header = [String(begin.keys.length), String(commit.keys.length), String(targets.length), String(begin.args.length), String(commit.args.length),
      claim, String(identity?.windowMs ?? ''), lead.id, traceFields && `,${traceFields}`, ...begin.args, ...commit.args, ...perDestination];
    this.writes.hold();
    const reply = await (this.redis as ScriptedRedis).leadrelayAcceptOneTrip(String(keys.length), ...keys, scriptJson(header), ...packed) as unknown[];
    if (reply[0] === 'accepted') return { outcome: 'accepted', first: Number(reply[1]) === 1 };
    if (reply[0] === 'identity') return { outcome: 'identity', holder: String(reply[1]) };
    return parseBeginResult(reply) as SingleTripResult;
  }

  /** Queues whose meta is written and whose keys the script builds (checked once per queue). */
  private readonly ready = new WeakSet<Queue>();

  /**
   * The queue's key prefix (`…:<queue>:`) when its BullMQ keys and FINISHED_JOB_SCRIPT's are that
   * prefix plus the names the script appends; undefined otherwise (another BullMQ key layout).
   */
  private queuePrefix(target: FanOutTarget, insert: unknown[]): string | undefined {
    const wait = insert[0] as string;
    const prefix = wait.slice(0, wait.length - BULL_KEY_SUFFIXES[0].length);
    if (this.ready.has(target.queue)) return prefix;
    const jobId = target.finished.args[0]!;
    const expected = [...BULL_KEY_SUFFIXES.map((s) => prefix + s), prefix + jobId, `${prefix}${jobId}:logs`, `${prefix}failed`, `${prefix}completed`];
    const actual = [...insert.slice(0, BULL_KEY_SUFFIXES.length), ...target.finished.keys];
    if (!wait.endsWith(BULL_KEY_SUFFIXES[0]) || expected.some((k, i) => k !== actual[i])) return undefined;
    this.ready.add(target.queue);
    return prefix;
  }
}

/**
 * The strings as a JSON array the script decodes (cjson) into the very bytes ioredis would have sent each as:
 * UTF-8, where a lone surrogate becomes U+FFFD. JSON.stringify writes lone surrogates as `\udXXX` escapes,
 * which cjson would not turn into that, so a header with one has its strings re-encoded first (as UTF-8 does).
 */
export function scriptJson(strings: string[]): string {
  const json = JSON.stringify(strings);
  return /\\ud[89a-f]/i.test(json) ? JSON.stringify(strings.map((x) => Buffer.from(x).toString())) : json;
}

function queueMeta(queue: Queue): Promise<unknown> {
  return (queue as unknown as { queueMetaInitialized?: Promise<unknown> }).queueMetaInitialized ?? queue.waitUntilReady();
}

/**
 * The 9 keys and 3 arguments BullMQ's `Queue.add` would send for this job (with empty data), built by BullMQ itself:
 * its insert hook is handed a client that only records the command. Undefined when BullMQ would not
 * use its plain insertion script for these options (a delay, a priority).
 */
function insertArgs(target: FanOutTarget): { args: unknown[]; jobId: string; timestamp: number } | undefined {
  const { queue } = target;
  const opts: JobsOptions = { ...(queue as unknown as { jobsOpts?: JobsOptions }).jobsOpts, ...target.opts };
  const backend = (queue as unknown as { getBackend?(): unknown }).getBackend?.() as Partial<JobInserter> | undefined;
  if (typeof backend?.addJobToTransaction !== 'function') return undefined;
  // The data is put together by the script (composeScript): BullMQ only needs to encode the rest.
  const job = new Job(queue, 'deliver', {}, opts, opts.jobId);
  const json = job.asJSON();
  (job as unknown as { validateOptions(json: unknown): void }).validateOptions(json);
  let recorded: { name: string; args: unknown[] } | undefined;
  const recorder = { runCommand: (name: string, args: unknown[]) => { recorded = { name, args }; return Promise.resolve(job.id); } };
  void backend.addJobToTransaction(recorder, json, job.id, {}).catch(() => undefined);
  if (!recorded || !recorded.name.startsWith('addStandardJob:') || recorded.args.length !== 12 || job.id === undefined) return undefined;
  return { args: recorded.args, jobId: job.id, timestamp: job.timestamp };
}

/** BullMQ's own copy of msgpackr, with the settings BullMQ packs job arguments and options with. */
const bullMsgpack = createRequire(require.resolve('bullmq'))('msgpackr') as {
  Packr: new (options: object) => { pack(value: unknown): Buffer };
  unpack(buffer: Buffer): unknown;
};
const bullPacker = new bullMsgpack.Packr({ useRecords: false, encodeUndefinedAsNil: true });

/** What BullMQ sent for one job of a queue, unpacked, and where that job's id and timestamp sit in it. */
interface InsertTemplate {
  /** The options the job was built from, without its id: later jobs must have the same. */
  optsKey: string;
  recorded: unknown[];
  args: unknown[];
  opts: Record<string, unknown>;
  jobIdFields: string[];
}

/**
 * BullMQ's insert arguments for each queue's jobs, built by BullMQ once per queue (a Job, its JSON, option
 * checks, two msgpack encodings: a sixth of the intake's CPU per lead before) and then re-packed with only the
 * job id and timestamp changed. The template is used only when re-packing what BullMQ sent gives back its
 * bytes exactly; otherwise, or when a target's options differ from the template's, BullMQ builds every job.
 */
export class InsertArgsCache {
  private readonly templates = new WeakMap<Queue, InsertTemplate | null>();
  /** Jobs whose arguments came from a template (not built by BullMQ). */
  templated = 0;

  args(target: FanOutTarget): unknown[] | undefined {
    const opts: JobsOptions = { ...(target.queue as unknown as { jobsOpts?: JobsOptions }).jobsOpts, ...target.opts };
    const jobId = opts.jobId;
    const optsKey = JSON.stringify({ ...opts, jobId: undefined });
    const template = this.templates.get(target.queue);
    if (template && template.optsKey === optsKey && jobId !== undefined) {
      const args = [...template.args];
      args[1] = jobId;
      args[3] = opts.timestamp ?? Date.now();
      const jobOpts = { ...template.opts };
      for (const field of template.jobIdFields) jobOpts[field] = jobId;
      const out = [...template.recorded];
      out[9] = bullPacker.pack(args);
      out[11] = bullPacker.pack(jobOpts);
      this.templated++;
      return out;
    }
    const built = insertArgs(target);
    if (built && template === undefined) this.templates.set(target.queue, templateOf(built, optsKey));
    return built?.args;
  }
}

function templateOf(built: { args: unknown[]; jobId: string; timestamp: number }, optsKey: string): InsertTemplate | null {
  const [packedArgs, packedOpts] = [built.args[9], built.args[11]];
  if (!Buffer.isBuffer(packedArgs) || !Buffer.isBuffer(packedOpts)) return null;
  const args = bullMsgpack.unpack(packedArgs);
  const opts = bullMsgpack.unpack(packedOpts);
  if (!Array.isArray(args) || args[1] !== built.jobId || args[3] !== built.timestamp || typeof opts !== 'object' || opts === null) return null;
  if (!bullPacker.pack(args).equals(packedArgs) || !bullPacker.pack(opts).equals(packedOpts)) return null;
  const jobIdFields = Object.keys(opts).filter((k) => (opts as Record<string, unknown>)[k] === built.jobId);
  return { optsKey, recorded: built.args, args, opts: opts as Record<string, unknown>, jobIdFields };
}
