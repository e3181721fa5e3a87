/** How LeadRelay's keys are spread over Redis Cluster slots (see KeySpace). */
export type KeyLayout = 'single-slot' | 'spread';

export interface KeySpaceOptions {
  /**
   * `single-slot` (default): every key under the one `{prefix}` hash tag. `spread`: one hash tag per
   * destination (its queue and its state) and per lead shard, so a Redis Cluster's masters share the load.
   */
  layout?: KeyLayout;
  /** Lead shards of the `spread` layout (default 64): each is one hash tag, so one slot. */
  leadShards?: number;
}

/** Lead shards of the spread layout: enough that a cluster of a dozen masters still gets an even share. */
export const DEFAULT_LEAD_SHARDS = 64;

/**
 * Every key LeadRelay writes, under `redis.prefix`, inside a {hash tag} (the part Redis Cluster hashes to
 * pick a slot).
 *
 * - `single-slot` (a single Redis): all keys share `{prefix}`, so one script can touch any of them.
 * - `spread` (a Redis Cluster): a destination's BullMQ queue, its pause/throttle hash, counters, alerts and
 *   quotas share `{prefix:<destination>}` (BullMQ needs a queue's keys in one slot; the worker's scripts read
 *   the destination's state beside it); a lead's hash, timeline and dedupe entry share `{prefix:lead-<n>}`,
 *   n = FNV-1a(lead id) mod `leadShards`. No script touches both kinds: accepting writes the lead first, then
 *   each queue's job with a deterministic id (see Relay.accept and LeadRepair).
 */
export class KeySpace {
  readonly layout: KeyLayout;
  readonly leadShards: number;
  private readonly root: string;

  constructor(readonly prefix: string, options: KeySpaceOptions = {}) {
    this.layout = options.layout ?? 'single-slot';
    this.leadShards = Math.max(1, options.leadShards ?? DEFAULT_LEAD_SHARDS);
    this.root = `{${prefix}}`;
  }

  get spread(): boolean {
    return this.layout === 'spread';
  }

  /** Hash tag of everything of one destination (or of one non-destination queue, e.g. the sources' poll queue). */
  private destinationTag(destinationId: string): string {
    return this.spread ? `{${this.prefix}:${destinationId}}` : this.root;
  }

  /** Hash tag of a lead's keys. */
  private leadTag(leadId: string): string {
    return this.spread ? `{${this.prefix}:lead-${fnv1a(leadId) % this.leadShards}}` : this.root;
  }

  /** BullMQ's `prefix` option for a queue: its keys are `<bullPrefix>:<queue name>:*`. */
  bullPrefix(queueName: string): string {
    return `${this.destinationTag(queueName)}:q`;
  }

  /** Key of one of BullMQ's own keys of a queue (`wait`, `meta`, a job id, `<job id>:lock`). */
  queueKey(queueName: string, suffix: string): string {
    return `${this.bullPrefix(queueName)}:${queueName}:${suffix}`;
  }

  /** SCAN pattern matching every queue's `meta` key (with some job keys ending in `:meta`; see queueOfMetaKey). */
  queueMetaPattern(): string {
    return this.spread ? `{${globEscape(this.prefix)}:*}:q:*:meta` : `${globEscape(this.root)}:q:*:meta`;
  }

  /** The queue whose `meta` key this is, or undefined for a key that is not one. */
  queueOfMetaKey(key: string): string | undefined {
    const m = /^\{(.*)\}:q:([a-z][a-z0-9-]*):meta$/.exec(key);
    if (!m) return undefined;
    return this.bullPrefix(m[2]!) === `{${m[1]}}:q` ? m[2] : undefined;
  }

  /** Hash: the lead, when it arrived, matched and skipped destinations, one delivery record per destination. */
  lead(leadId: string): string {
    return `${this.leadTag(leadId)}:lead:${leadId}`;
  }

  /** SCAN pattern matching every lead hash (all shards). */
  leadPattern(): string {
    return this.spread ? `{${globEscape(this.prefix)}:lead-*}:lead:*` : `${globEscape(this.root)}:lead:*`;
  }

  /** The lead id of a lead hash's key, or undefined for another key. */
  leadIdOfKey(key: string): string | undefined {
    const at = key.indexOf('}:lead:');
    if (at < 0) return undefined;
    const id = key.slice(at + '}:lead:'.length);
    return this.lead(id) === key ? id : undefined;
  }

  /** List: every delivery attempt of a lead, oldest first. */
  timeline(leadId: string): string {
    return `${this.leadTag(leadId)}:timeline:${leadId}`;
  }

  /** String: id-less lead content hash → lead id, for `intake.dedupeWindow`. Same slot as the lead of that id. */
  dedupe(contentId: string): string {
    return `${this.leadTag(contentId)}:dedupe:${contentId}`;
  }

  /** String: lead identity key (see leadIdentityKey) → id of the lead it first arrived as, for `dedupe.window`. */
  identity(identityKey: string): string {
    return `${this.leadTag(identityKey)}:identity:${identityKey}`;
  }

  /**
   * Hash tags of the lead search index (see LeadIndex): the index of a lead lives in its lead's slot, so
   * the accept writes it in the same script; a search reads every shard (one tag single-slot, `leadShards` spread).
   */
  leadIndexTags(): string[] {
    return this.spread ? Array.from({ length: this.leadShards }, (_, n) => `{${this.prefix}:lead-${n}}`) : [this.root];
  }

  /** Hash tag of a lead's index entries (its own lead tag). */
  leadIndexTag(leadId: string): string {
    return this.leadTag(leadId);
  }

  /**
   * Sorted sets of the lead index in one shard `tag`, each scored by the time a lead was received:
   * `time` every lead id, `email` the ids of one keyed email hash (never the address), `offer` the ids of
   * one offer, `offers` the shard's offer names (scored by their latest lead, for `--offer <glob>`).
   */
  leadIndex(tag: string, kind: 'time' | 'offers'): string;
  leadIndex(tag: string, kind: 'email' | 'offer', value: string): string;
  leadIndex(tag: string, kind: 'time' | 'offers' | 'email' | 'offer', value?: string): string {
    return value === undefined ? `${tag}:idx:${kind}` : `${tag}:idx:${kind}:${value}`;
  }

  /** Hash: a destination's pause reason, throttle deadline and last error. */
  destination(destinationId: string): string {
    return `${this.destinationTag(destinationId)}:dest:${destinationId}`;
  }

  /** String set only if absent: limits how often one kind of alert fires for a destination, across processes. */
  alert(destinationId: string, kind: string): string {
    return `${this.destinationTag(destinationId)}:dest:${destinationId}:alert:${kind}`;
  }

  /** Counter of delivered/dead deliveries (and, hourly only, failed attempts); with `hour` (epoch hours) the per-hour bucket. */
  counter(destinationId: string, outcome: 'delivered' | 'dead' | 'failed', hour?: number): string {
    return `${this.destinationTag(destinationId)}:count:${destinationId}:${outcome}${hour === undefined ? '' : `:${hour}`}`;
  }

  /** Sorted set behind a destination's rolling quota. */
  quota(destinationId: string, name: string): string {
    return `${this.destinationTag(destinationId)}:quota:${destinationId}:${name}`;
  }

  /** String: one held lock of a destination's lock set `name` (a hash, e.g. of a lookup email), with its holder's token. */
  keyLock(destinationId: string, name: string, key: string): string {
    return `${this.destinationTag(destinationId)}:lock:${destinationId}:${name}:${key}`;
  }

  /**
   * Hash: a pull source's watermark, pause and counters (its poll lock and token cache are beside it, `<this>:lock`,
   * `<this>:token-cache`). Under `{prefix}` in both layouts: a source's keys are few and read together.
   */
  source(sourceId: string): string {
    return `${this.root}:source:${sourceId}`;
  }

  /** String set only if absent: one process at a time runs a periodic maintenance task (`name`, e.g. `lead-repair`). */
  maintenanceLock(name: string): string {
    return `${this.destinationTag('_maintenance')}:maintenance:${name}`;
  }

  /** True when both keys hash to the same slot (always, in the single-slot layout). */
  sameSlot(a: string, b: string): boolean {
    return hashTag(a) === hashTag(b);
  }

  /** Queue name of a destination (ids are `^[a-z][a-z0-9-]*$`, so never contain `:`). */
  queueName(destinationId: string): string {
    return destinationId;
  }

  /** Deterministic job id: a lead is queued at most once per destination. Never all digits, never has `:`. */
  jobId(destinationId: string, leadId: string): string {
    return `${destinationId}.${leadId}`;
  }

  leadIdOfJob(destinationId: string, jobId: string): string {
    return jobId.slice(destinationId.length + 1);
  }
}

/** The part of a key Redis Cluster hashes: the first non-empty `{…}`, else the whole key. */
export function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

/** 32-bit FNV-1a of a string's UTF-16 code units: cheap, stable across versions and processes. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A literal for a SCAN MATCH pattern. */
export function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
