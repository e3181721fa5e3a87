import type { Queue } from 'bullmq';
import type { SerializedDeliveryError } from '@leadrelay/core';
import type { KeySpace } from './key-space.js';
import type { RedisClient } from './redis-connection.js';

/** Why a destination is paused: by an operator, or by LeadRelay after a configuration failure. */
export interface PauseInfo {
  by: 'operator' | 'configuration';
  reason: string;
  remediation?: string;
  at: string;
  /** Hash of the destination's settings when it was paused: a changed config resumes it. */
  configHash?: string;
}

export interface DestinationHealth {
  paused: boolean;
  pause?: PauseInfo;
  throttledUntil?: string;
  lastError?: SerializedDeliveryError & { at: string };
  /** ISO-8601 time of the last delivered attempt. */
  lastSuccessAt?: string;
  /** Outcomes of the latest attempts, oldest first: `o` delivered, `x` failed. */
  recent: string;
}

/** KEYS: destination hash. ARGV: hold end (epoch ms), the same as ISO text. Keeps the later of the two holds. */
const HOLD = `
local current = redis.call('HGET', KEYS[1], 'throttledUntil')
local currentMs = current and tonumber(redis.call('HGET', KEYS[1], 'throttledUntilMs') or '0') or 0
if currentMs >= tonumber(ARGV[1]) then return current end
redis.call('HSET', KEYS[1], 'throttledUntil', ARGV[2], 'throttledUntilMs', ARGV[1])
return ARGV[2]
`;

/** A stored hold end (ISO text), when it is still in the future. */
export function holdInForce(value: string | null | undefined, now: number): Date | undefined {
  if (!value) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) || at <= now ? undefined : new Date(at);
}

/**
 * KEYS: destination hash. ARGV: HTTP status, lead id, most leads kept.
 * Adds the lead to the destination's streak of leads rejected with this status (a different status
 * starts a new streak; a delivery ends it, see LeadStore) and returns the streak's lead ids as JSON.
 */
const NOTE_REJECTION = `
local status = tonumber(ARGV[1])
local streak = nil
local raw = redis.call('HGET', KEYS[1], 'rejectStreak')
if raw then
  local ok, value = pcall(cjson.decode, raw)
  if ok and type(value) == 'table' and value.status == status and type(value.leads) == 'table' then streak = value end
end
if not streak then streak = { status = status, leads = {} } end
local seen = false
for _, id in ipairs(streak.leads) do if id == ARGV[2] then seen = true end end
if not seen then table.insert(streak.leads, ARGV[2]) end
while #streak.leads > tonumber(ARGV[3]) do table.remove(streak.leads, 1) end
local encoded = cjson.encode(streak.leads)
redis.call('HSET', KEYS[1], 'rejectStreak', cjson.encode({ status = status, leads = streak.leads }))
return encoded
`;

/**
 * KEYS: destination hash. ARGV: the pausing worker's config hash, the pause info JSON.
 * Records a configuration pause unless that config hash was superseded (a worker running another
 * configuration resumed a pause it caused): returns 'paused' or 'superseded'.
 */
const PAUSE_FOR_CONFIG = `
if redis.call('HEXISTS', KEYS[1], 'superseded:' .. ARGV[1]) == 1 then return 'superseded' end
redis.call('HSET', KEYS[1], 'pause', ARGV[2])
return 'paused'
`;

/**
 * KEYS: destination hash. ARGV: the resuming worker's config hash, now (ISO).
 * A configuration pause caused by another config hash is lifted by a worker whose own config has not
 * been superseded; the pausing hash is then superseded. Returns the superseded hash, or false.
 */
const RESUME_FOR_CONFIG = `
if redis.call('HEXISTS', KEYS[1], 'superseded:' .. ARGV[1]) == 1 then return false end
local raw = redis.call('HGET', KEYS[1], 'pause')
if not raw then return false end
local ok, info = pcall(cjson.decode, raw)
if not ok or type(info) ~= 'table' or info.by ~= 'configuration' or type(info.configHash) ~= 'string' or info.configHash == ARGV[1] then return false end
redis.call('HSET', KEYS[1], 'superseded:' .. info.configHash, ARGV[2])
redis.call('HDEL', KEYS[1], 'pause')
return info.configHash
`;

type ConfigPauseRedis = RedisClient & {
  leadrelayPauseForConfig(key: string, hash: string, info: string): Promise<string>;
  leadrelayResumeForConfig(key: string, hash: string, now: string): Promise<string | null>;
};

type StreakRedis = RedisClient & { leadrelayNoteRejection(key: string, status: string, leadId: string, max: string): Promise<string> };

/**
 * Pause, resume, throttle and last-error state of one destination, shared by every process.
 * Pausing is BullMQ's own queue pause (workers stop fetching; waiting leads stay) plus our reason.
 */
export class DestinationControl {
  constructor(private readonly redis: RedisClient, private readonly keys: KeySpace, readonly destinationId: string, private readonly queue: Queue) {}

  /**
   * Notes that `leadId` was rejected with HTTP `status`; returns the different leads rejected with
   * that same status in a row, oldest first (at most `max`), across every worker.
   */
  async noteRejection(status: number, leadId: string, max: number): Promise<string[]> {
    if (!('leadrelayNoteRejection' in this.redis)) this.redis.defineCommand('leadrelayNoteRejection', { numberOfKeys: 1, lua: NOTE_REJECTION });
    const redis = this.redis as StreakRedis;
    const raw = await redis.leadrelayNoteRejection(this.key, String(status), leadId, String(max));
    const leads = JSON.parse(raw) as unknown;
    return Array.isArray(leads) ? leads.map(String) : [];
  }

  async clearRejections(): Promise<void> {
    await this.redis.hdel(this.key, 'rejectStreak');
  }

  private get key(): string {
    return this.keys.destination(this.destinationId);
  }

  async pause(info: PauseInfo): Promise<void> {
    // The reason first: whoever sees the queue paused can always say why.
    await this.redis.hset(this.key, 'pause', JSON.stringify(info));
    await this.queue.pause();
  }

  /**
   * An operator's resume: lifts any pause and forgets which configurations were superseded, so every
   * worker takes this destination's jobs again (e.g. the secret was fixed at the CRM, not in the config).
   */
  async resume(): Promise<void> {
    const superseded = Object.keys(await this.redis.hgetall(this.key)).filter((f) => f.startsWith('superseded:'));
    await this.redis.hdel(this.key, 'pause', ...superseded);
    await this.queue.resume();
  }

  /**
   * Pauses the destination for a configuration failure seen by a worker running config `info.configHash`,
   * unless that configuration was superseded by a worker running another one: then nothing is paused and
   * the caller must stop taking this destination's jobs. Re-checks after pausing, so a resume racing with
   * this pause cannot leave the queue paused without a reason.
   */
  async pauseForConfiguration(info: PauseInfo & { configHash: string }): Promise<'paused' | 'superseded'> {
    const redis = this.scripts();
    if (await redis.leadrelayPauseForConfig(this.key, info.configHash, JSON.stringify(info)) === 'superseded') return 'superseded';
    await this.queue.pause();
    if (await this.isSuperseded(info.configHash) && !(await this.redis.hexists(this.key, 'pause'))) {
      await this.queue.resume();
      return 'superseded';
    }
    return 'paused';
  }

  /**
   * Lifts a configuration pause caused by a config hash other than `configHash` (a worker of another
   * configuration version), unless `configHash` itself was superseded. Returns the hash it superseded.
   */
  async resumeForConfiguration(configHash: string): Promise<string | undefined> {
    const superseded = await this.scripts().leadrelayResumeForConfig(this.key, configHash, new Date().toISOString());
    if (!superseded) return undefined;
    await this.queue.resume();
    return String(superseded);
  }

  /** True when a worker of another configuration resumed a pause that config `configHash` caused. */
  async isSuperseded(configHash: string): Promise<boolean> {
    return (await this.redis.hexists(this.key, `superseded:${configHash}`)) === 1;
  }

  private scripts(): ConfigPauseRedis {
    if (!('leadrelayPauseForConfig' in this.redis)) this.redis.defineCommand('leadrelayPauseForConfig', { numberOfKeys: 1, lua: PAUSE_FOR_CONFIG });
    if (!('leadrelayResumeForConfig' in this.redis)) this.redis.defineCommand('leadrelayResumeForConfig', { numberOfKeys: 1, lua: RESUME_FOR_CONFIG });
    return this.redis as ConfigPauseRedis;
  }

  /**
   * Holds the destination until `until` for every worker process: each worker reads the hold before
   * it calls the destination (see Relay.preflight) and parks the delivery as delayed instead. A hold
   * only ever grows, so a shorter wait reported by a call already in flight cannot cut a longer one.
   * Returns the hold in force.
   */
  async hold(until: Date): Promise<Date> {
    const r = await this.redis.eval(HOLD, 1, this.key, String(until.getTime()), until.toISOString());
    return new Date(String(r));
  }

  /** The end of the current hold, if the destination is held now. */
  async heldUntil(now = Date.now()): Promise<Date | undefined> {
    return holdInForce(await this.redis.hget(this.key, 'throttledUntil'), now);
  }

  async setLastError(error: SerializedDeliveryError, at = new Date()): Promise<void> {
    await this.redis.hset(this.key, 'lastError', JSON.stringify({ ...error, at: at.toISOString() }));
  }

  async health(): Promise<DestinationHealth> {
    const [paused, fields] = await Promise.all([this.queue.isPaused(), this.redis.hgetall(this.key)]);
    const throttledUntil = holdInForce(fields.throttledUntil, Date.now())?.toISOString();
    return {
      paused,
      ...(paused && fields.pause ? { pause: JSON.parse(fields.pause) as PauseInfo } : {}),
      ...(throttledUntil ? { throttledUntil } : {}),
      ...(fields.lastError ? { lastError: JSON.parse(fields.lastError) as DestinationHealth['lastError'] } : {}),
      ...(fields.lastSuccessAt ? { lastSuccessAt: fields.lastSuccessAt } : {}),
      recent: fields.recent ?? '',
    };
  }
}
