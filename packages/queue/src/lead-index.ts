import { createHmac } from 'node:crypto';
import { globToRegExp } from '@leadrelay/config';
import type { CustomerInfo, Lead } from '@leadrelay/core';
import type { DeliveryRecord, DeliveryState } from './delivery-state.js';
import type { KeySpace } from './key-space.js';
import type { RedisClient } from './redis-connection.js';

/** A lead to index, and when it was received (its score in every index set). */
export interface IndexedLead {
  lead: Lead;
  receivedAt: Date;
}

export interface LeadIndexOptions {
  /** How long an entry is kept, in ms: the longer of `leads.retention` and `deadLetters.retention` (no default). */
  horizonMs: number;
  /**
   * HMAC key of the email hashes. Default: a fixed LeadRelay constant, so every process (and a key
   * migration to another prefix) agrees without configuration. It keeps addresses out of key names; it does
   * not stop someone who can read Redis from testing a guessed address.
   */
  secret?: string;
  /** Index entries read per key per round trip while searching (default 100). */
  batchSize?: number;
}

/** What `leadrelay leads` and `GET /api/leads` search for; email, offer or since is required, the rest narrow it. */
export interface LeadSearchFilter {
  /** The customer's email, any casing. */
  email?: string;
  /** The lead's offer, as a glob (`contoso.*`), case-insensitive. */
  offer?: string;
  /** Received at or after (ms since the epoch). */
  since?: number;
  /** Only leads with a delivery in this state (at `destination` when given). */
  state?: DeliveryState;
  /** Only leads accepted for this destination. */
  destination?: string;
  /** Leads per page (default 50, at most 1000). */
  limit?: number;
  /** Where the previous page stopped (its `cursor`). */
  cursor?: string;
}

/** One lead found: what identifies it and where it is, and its customer data (masked by the caller unless asked). */
export interface LeadSummary {
  id: string;
  receivedAt: string;
  offer?: string;
  testLead: boolean;
  /** State per destination (matched ones, then skipped ones). */
  deliveries: Record<string, DeliveryState>;
  /** Absent once erased. */
  customer?: CustomerInfo;
  erasedAt?: string;
}

export interface LeadSearchPage {
  leads: LeadSummary[];
  /** Pass back for the next page; absent on the last one. */
  cursor?: string;
}

/** A search that cannot run as given; `field` names the filter field. */
export class InvalidLeadSearchError extends Error {
  readonly code = 'LR_INVALID_FILTER';
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'InvalidLeadSearchError';
  }
}

interface Position {
  score: number;
  id: string;
}

/** Newest first; equal times by id, descending (the order ZREVRANGEBYSCORE keeps). */
function before(a: Position, b: Position): boolean {
  return a.score > b.score || (a.score === b.score && a.id > b.id);
}

/** One index set read newest first from `max` down to `min`, a batch at a time, skipping what a cursor already passed. */
class SortedSetReader {
  private buffer: Position[] = [];
  private offset = 0;
  private exhausted = false;

  constructor(private readonly redis: RedisClient, private readonly key: string, private readonly min: number, private readonly after: Position | undefined, private readonly batch: number) {}

  get done(): boolean {
    return this.exhausted && this.buffer.length === 0;
  }

  get needsFill(): boolean {
    return this.buffer.length === 0 && !this.exhausted;
  }

  head(): Position | undefined {
    return this.buffer[0];
  }

  shift(): Position | undefined {
    return this.buffer.shift();
  }

  async fill(): Promise<void> {
    const max = this.after ? String(this.after.score) : '+inf';
    const reply = await this.redis.zrevrangebyscore(this.key, max, String(this.min), 'WITHSCORES', 'LIMIT', this.offset, this.batch);
    this.offset += reply.length / 2;
    if (reply.length / 2 < this.batch) this.exhausted = true;
    for (let i = 0; i < reply.length; i += 2) {
      const p = { id: reply[i]!, score: Number(reply[i + 1]) };
      if (!this.after || before(this.after, p)) this.buffer.push(p);
    }
  }
}

/**
 * The lead search index: sorted sets of lead ids scored by receive time, by keyed email hash, by offer
 * and by time alone (keys: KeySpace.leadIndex). Written by COMMIT_SCRIPT in the lead's own slot, in the
 * same script as the acceptance (single Redis: the one-trip accept; Cluster: the commit step), so a lead
 * is findable exactly when it is accepted. On a Cluster each lead shard has its own sets, and a search
 * reads all shards (`leadShards` small reads, merged). Entries older than `horizonMs` are trimmed on
 * writes and reads, and a hit whose lead record expired is dropped: the record decides, not the index.
 */
export class LeadIndex {
  private readonly secret: string;
  private readonly batchSize: number;

  constructor(private readonly redis: RedisClient, private readonly keys: KeySpace, private readonly options: LeadIndexOptions) {
    this.secret = options.secret ?? 'leadrelay-lead-index-v1';
    this.batchSize = options.batchSize ?? 100;
  }

  /** The keyed hash an email is indexed under: never the address itself in a key name. */
  emailHash(email: string): string {
    return createHmac('sha256', this.secret).update(email.trim().toLowerCase()).digest('hex').slice(0, 32);
  }

  /** The email index set a lead with this email is in. */
  emailKey(leadId: string, email: string): string {
    return this.keys.leadIndex(this.keys.leadIndexTag(leadId), 'email', this.emailHash(email));
  }

  /** COMMIT_SCRIPT's index KEYS (time, email, offer, offers) and ARGV (received ms, trim-before ms, ttl ms, offer, has-email). */
  entryCall(lead: Lead, receivedAt: Date, now = Date.now()): { keys: string[]; args: string[] } {
    const tag = this.keys.leadIndexTag(lead.id);
    const email = lead.customer.email?.trim();
    return {
      keys: [this.keys.leadIndex(tag, 'time'), email ? this.emailKey(lead.id, email) : this.keys.lead(lead.id), this.keys.leadIndex(tag, 'offer', lead.offer), this.keys.leadIndex(tag, 'offers')],
      args: [String(receivedAt.getTime()), String(now - this.options.horizonMs), String(Math.max(1, this.options.horizonMs)), lead.offer, email ? '1' : '0'],
    };
  }

  /** Every lead id indexed under this email (all shards), for erasing: unpaged, newest first. */
  async idsByEmail(email: string): Promise<string[]> {
    const found: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.search({ email, limit: 1000, ...(cursor ? { cursor } : {}) }, { raw: true });
      found.push(...page.leads.map((l) => l.id));
      cursor = page.cursor;
    } while (cursor);
    return found;
  }

  /** One page of leads matching the filter, newest first. `raw`: also leads whose record is gone (for erase). */
  async search(filter: LeadSearchFilter, options: { raw?: boolean; now?: number } = {}): Promise<LeadSearchPage> {
    const now = options.now ?? Date.now();
    const limit = filter.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new InvalidLeadSearchError('limit', 'must be a whole number from 1 to 1000');
    const after = filter.cursor ? decodeCursor(filter.cursor) : undefined;
    const horizon = now - this.options.horizonMs;
    const min = Math.max(horizon, filter.since ?? -Infinity);
    const sources = await this.sourceKeys(filter, horizon);
    // Trimmed as read too: an email's set is only written when that person sends a lead again.
    await Promise.all(sources.map((k) => this.redis.zremrangebyscore(k, '-inf', `(${horizon}`)));
    const readers = sources.map((k) => new SortedSetReader(this.redis, k, min, after, Math.min(this.batchSize, limit + 1)));
    const offer = filter.offer ? globToRegExp(filter.offer) : undefined;
    const email = filter.email?.trim().toLowerCase();
    const leads: LeadSummary[] = [];
    for (;;) {
      const batch = await this.next(readers, Math.min(this.batchSize, limit - leads.length + 1));
      if (batch.length === 0) return { leads };
      const hashes = await this.hashes(batch.map((p) => p.id));
      for (let i = 0; i < batch.length; i++) {
        const p = batch[i]!;
        const summary = summarize(p, hashes[i]!);
        const keep = options.raw || (summary !== undefined && matches(summary, hashes[i]!, { ...filter, email, offerRe: offer }));
        if (!keep) continue;
        leads.push(summary ?? { id: p.id, receivedAt: new Date(p.score).toISOString(), testLead: false, deliveries: {} });
        if (leads.length === limit) {
          const more = i < batch.length - 1 || !readers.every((r) => r.done);
          return { leads, ...(more ? { cursor: encodeCursor(p) } : {}) };
        }
      }
    }
  }

  /** The index sets a filter reads: the person's, the matching offers', or the time sets. */
  private async sourceKeys(filter: LeadSearchFilter, horizon: number): Promise<string[]> {
    const tags = this.keys.leadIndexTags();
    if (filter.email !== undefined) {
      if (!filter.email.includes('@')) throw new InvalidLeadSearchError('email', `'${filter.email}' is not an email address`);
      const hash = this.emailHash(filter.email);
      return tags.map((t) => this.keys.leadIndex(t, 'email', hash));
    }
    if (filter.offer !== undefined) {
      if (filter.offer.trim() === '') throw new InvalidLeadSearchError('offer', 'must not be empty');
      const re = globToRegExp(filter.offer);
      // Each shard's offer names (few: one per offer seen within the horizon), matched here against the glob.
      const names = await Promise.all(tags.map(async (t) => {
        const catalog = this.keys.leadIndex(t, 'offers');
        await this.redis.zremrangebyscore(catalog, '-inf', `(${horizon}`);
        return (await this.redis.zrangebyscore(catalog, String(horizon), '+inf')).filter((o) => re.test(o)).map((o) => this.keys.leadIndex(t, 'offer', o));
      }));
      return names.flat();
    }
    if (filter.since !== undefined) return tags.map((t) => this.keys.leadIndex(t, 'time'));
    throw new InvalidLeadSearchError('filter', 'give an email, an offer or a since (e.g. --email ada@contoso.com, --offer "contoso.*", --since 1d)');
  }

  /** Up to `n` next positions over every reader, newest first (refilling readers in parallel as they run dry). */
  private async next(readers: SortedSetReader[], n: number): Promise<Position[]> {
    const out: Position[] = [];
    while (out.length < n) {
      const empty = readers.filter((r) => r.needsFill);
      if (empty.length) await Promise.all(empty.map((r) => r.fill()));
      let best: SortedSetReader | undefined;
      for (const r of readers) {
        const h = r.head();
        if (h && (!best || before(h, best.head()!))) best = r;
      }
      if (!best) break;
      out.push(best.shift()!);
    }
    return out;
  }

  private async hashes(ids: string[]): Promise<Record<string, string>[]> {
    if (this.keys.spread) return Promise.all(ids.map((id) => this.redis.hgetall(this.keys.lead(id))));
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.lead(id));
    const rows = (await pipeline.exec()) ?? [];
    return rows.map(([err, row]) => {
      if (err) throw err;
      return row as Record<string, string>;
    });
  }
}

/** The summary of an accepted lead's hash (undefined when the record is gone: expired past retention, or never accepted). */
function summarize(p: Position, hash: Record<string, string>): LeadSummary | undefined {
  if (!hash.accepted || !hash.receivedAt) return undefined;
  const lead = hash.lead ? (JSON.parse(hash.lead) as Lead) : undefined;
  const deliveries: Record<string, DeliveryState> = {};
  for (const d of [...JSON.parse(hash.destinations ?? '[]') as string[], ...JSON.parse(hash.skipped ?? '[]') as string[]]) {
    const raw = hash[`d:${d}`];
    deliveries[d] = raw ? (JSON.parse(raw) as DeliveryRecord).state : 'queued';
  }
  const offer = lead?.offer ?? hash.offer;
  return {
    id: p.id, receivedAt: hash.receivedAt, ...(offer ? { offer } : {}), testLead: hash.testLead === 'true', deliveries,
    ...(lead ? { customer: lead.customer } : {}), ...(hash.erasedAt ? { erasedAt: hash.erasedAt } : {}),
  };
}

function matches(s: LeadSummary, hash: Record<string, string>, f: LeadSearchFilter & { offerRe?: RegExp }): boolean {
  // The hash found it; the lead itself confirms it (an erased lead's email entry is gone anyway).
  if (f.email && (!hash.lead || s.customer?.email?.trim().toLowerCase() !== f.email)) return false;
  if (f.offerRe && !(s.offer !== undefined && f.offerRe.test(s.offer))) return false;
  // A destination alone means the leads it took (its match), not the ones it skipped; `state: skipped` asks for those.
  if (f.destination && !f.state && (s.deliveries[f.destination] ?? 'skipped') === 'skipped') return false;
  if (f.state) {
    const states = f.destination ? [s.deliveries[f.destination]] : Object.values(s.deliveries);
    if (!states.includes(f.state)) return false;
  }
  return true;
}

function encodeCursor(p: Position): string {
  return Buffer.from(`${p.score}:${p.id}`).toString('base64url');
}

function decodeCursor(cursor: string): Position {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const colon = text.indexOf(':');
  const score = Number(text.slice(0, colon));
  if (colon < 1 || !Number.isFinite(score) || colon === text.length - 1) throw new InvalidLeadSearchError('cursor', 'is not a cursor this search returned');
  return { score, id: text.slice(colon + 1) };
}
