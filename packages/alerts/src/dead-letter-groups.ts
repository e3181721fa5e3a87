import type { Logger } from '@leadrelay/observability';
import { withTimeout, type Relay } from '@leadrelay/queue';

export interface DeadLetterGroupsOptions {
  relay: Relay;
  logger: Logger;
  /** Length of a destination's grouping window, opened by its first dead letter (default 60 s). */
  windowMs?: number;
  /** Most example leads kept per summary (default 20). */
  maxExamples?: number;
  /** Longest wait for Redis per call (default 2 s). */
  timeoutMs?: number;
  /** Called once per ended window that had further dead letters, by whichever process claimed it. */
  onSummary: (summary: DeadLetterSummary) => void;
}

/** The dead letters of one destination's window after its first one. */
export interface DeadLetterSummary {
  destination: string;
  count: number;
  /** Epoch ms: the window's start and end. */
  since: number;
  until: number;
  codes: Record<string, number>;
  examples: { leadId: string; code: string }[];
}

/** KEYS: window key. ARGV: now (ms), window (ms). Opens a window (returns false), or returns the open window's start. */
const OPEN_WINDOW = `
local start = redis.call('GET', KEYS[1])
if start then return start end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
`;

/**
 * KEYS: pending set (window start scored by its end), window hash, examples list.
 * ARGV: start, until, code, example JSON, most examples, ttl ms. Counts one dead letter in a window.
 * ZADD NX re-adds a window another process already sent, so a dead letter counted late still gets a summary.
 */
const COUNT = `
redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'count', 1)
redis.call('HINCRBY', KEYS[2], 'code:' .. ARGV[3], 1)
if redis.call('LLEN', KEYS[3]) < tonumber(ARGV[5]) then redis.call('RPUSH', KEYS[3], ARGV[4]) end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
return 1
`;

/** KEYS: pending set, window hash, examples list. ARGV: start. Takes a window for sending: one caller across every process wins it. */
const CLAIM = `
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return false end
local h = redis.call('HGETALL', KEYS[2])
local l = redis.call('LRANGE', KEYS[3], 0, -1)
redis.call('DEL', KEYS[2], KEYS[3])
return {h, l}
`;

/** A window's counts outlive it this long when no process is left to send it (then the next worker's monitor does). */
const KEEP_MS = 86_400_000;

/**
 * Groups a destination's dead letters so that a failing batch is one alert, not hundreds: the first one in
 * a window is alerted at once (record says `first`); the rest are counted in Redis (shared by every worker)
 * and summed up in one summary when the window ends, sent by whichever process claims it first: the one
 * whose timer fires, or any QueueWaitMonitor check after the end (a process that died leaves it to others).
 */
export class DeadLetterGroups {
  readonly windowMs: number;
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly options: DeadLetterGroupsOptions) {
    this.windowMs = options.windowMs ?? 60_000;
  }

  /** Notes a dead letter: `first` when it opened a window (alert it now), `grouped` when it is counted for the summary. */
  async record(destination: string, leadId: string, code: string, now = Date.now()): Promise<'first' | 'grouped'> {
    const { relay } = this.options;
    const start = await this.call(relay.redis.eval(OPEN_WINDOW, 1, this.key(destination, 'window'), String(now), String(this.windowMs)));
    if (start === null || start === undefined || start === 0) return 'first';
    const since = Number(start);
    const until = since + this.windowMs;
    await this.call(relay.redis.eval(COUNT, 3, this.key(destination, 'pending'), this.key(destination, `${since}`), this.key(destination, `${since}:examples`),
      String(since), String(until), code, JSON.stringify({ leadId, code }), String(this.options.maxExamples ?? 20), String(this.windowMs + KEEP_MS)));
    this.schedule(destination, until);
    return 'grouped';
  }

  /** Sends every window of `destination` that has ended (all of them with `force`, at shutdown); returns how many this call sent. */
  async flush(destination: string, options: { force?: boolean; now?: number } = {}): Promise<number> {
    const { relay } = this.options;
    const pending = this.key(destination, 'pending');
    const starts = await this.call(relay.redis.zrangebyscore(pending, '-inf', options.force ? '+inf' : String(options.now ?? Date.now())));
    let sent = 0;
    for (const start of starts) {
      const claimed = (await this.call(relay.redis.eval(CLAIM, 3, pending, this.key(destination, start), this.key(destination, `${start}:examples`), start))) as [string[], string[]] | null;
      if (!claimed) continue;
      const [flat, examples] = claimed;
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
      const codes = Object.fromEntries(Object.entries(fields).filter(([k]) => k.startsWith('code:')).map(([k, v]) => [k.slice(5), Number(v)]));
      const since = Number(start);
      this.options.onSummary({
        destination, count: Number(fields.count ?? 0), since, until: since + this.windowMs, codes,
        examples: examples.map((e) => JSON.parse(e) as { leadId: string; code: string }),
      });
      sent++;
    }
    return sent;
  }

  /** Stops the timers; with `flush`, first sends this process's open windows at once (their counts would otherwise wait for another worker). */
  async close(options: { flush?: boolean } = {}): Promise<void> {
    const destinations = new Set([...this.timers.keys()].map((k) => k.slice(0, k.lastIndexOf('\u0000'))));
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    if (!options.flush) return;
    for (const d of destinations) {
      await this.flush(d, { force: true }).catch((e: Error) => this.options.logger.warn({ destination: d, err: e.message }, 'could not send a dead-letter summary at shutdown'));
    }
  }

  private schedule(destination: string, until: number): void {
    const id = `${destination}\u0000${until}`;
    if (this.timers.has(id)) return;
    // A little after the end, so this process's clock agrees the window is over.
    const timer = setTimeout(() => {
      this.timers.delete(id);
      this.flush(destination).catch((e: Error) => this.options.logger.warn({ destination, err: e.message }, 'could not send a dead-letter summary'));
    }, Math.max(0, until - Date.now()) + 50);
    timer.unref();
    this.timers.set(id, timer);
  }

  private key(destination: string, part: string): string {
    return this.options.relay.keys.alert(destination, `dead-letters:${part}`);
  }

  private call<T>(p: Promise<T>): Promise<T> {
    return withTimeout(p, this.options.timeoutMs ?? 2000);
  }
}
