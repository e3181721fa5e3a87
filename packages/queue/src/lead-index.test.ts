import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '@leadrelay/config';
import { parseJsonLead, type Lead } from '@leadrelay/core';
import { uniquePrefix } from '../../../test/helpers/unique.js';
import type { KeyLayout } from './key-space.js';
import { Relay } from './relay.js';

const yaml = (prefix: string, extra = '') => `
redis: { url: "${inject('redisUrl')}", prefix: ${prefix} }
intake: { apiKeys: ["0123456789abcdef0123"] }
dedupe: { window: 0s }
${extra}
destinations:
  - { id: a, type: https, url: "https://a.example/hook" }
  - { id: b, type: https, url: "https://b.example/hook", match: { offers: ["fabrikam.*"] } }
`;

let n = 0;
function lead(email: string, offer = 'contoso.app'): Lead {
  const r = parseJsonLead({ id: `L${++n}-${Date.now()}`, source: 'SPZA', action: 'INS', offer, customer: { email, firstName: 'Grace', lastName: 'Hopper' }, createdAt: '2026-01-02T03:04:05.000Z' });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.lead;
}

/** Every key of a prefix (SCAN, test only), and whether any of them names or holds `text`. */
async function keysOf(redis: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}*`, 'COUNT', 1000);
    out.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

describe.each<KeyLayout>(['single-slot', 'spread'])('lead index (%s layout)', (layout) => {
  const redis = new Redis(inject('redisUrl'));
  const relays: Relay[] = [];
  const open = (prefix: string, extra = '') => {
    const r = new Relay(parseConfig(yaml(prefix, extra), 'x.yaml', { env: {} }), { keyLayout: layout });
    relays.push(r);
    return r;
  };
  afterAll(async () => {
    await Promise.all(relays.map((r) => r.close()));
    redis.disconnect();
  });

  it('is written with the acceptance: by keyed email hash (never the address in a key), offer and time', async () => {
    const prefix = uniquePrefix('lidx');
    const relay = open(prefix);
    const l = lead('Grace.Hopper@Navy.example');
    await relay.accept(l, { clientId: true });
    const keys = await keysOf(redis, prefix);
    const index = keys.filter((k) => k.includes(':idx:'));
    expect(index.length).toBe(4);
    expect(keys.some((k) => /navy|grace|hopper/i.test(k))).toBe(false);
    const emailKey = relay.leads.index.emailKey(l.id, 'grace.hopper@navy.example');
    expect(index).toContain(emailKey);
    expect(relay.keys.sameSlot(emailKey, relay.keys.lead(l.id))).toBe(true);
    expect(await redis.zscore(emailKey, l.id)).toBe(String(Date.parse((await relay.status(l.id))!.receivedAt)));
    // Every index key expires (it never outlives the horizon), and a repeat post writes nothing twice.
    for (const k of index) expect(await redis.pttl(k)).toBeGreaterThan(0);
    await relay.accept(l, { clientId: true });
    expect(await redis.zcard(emailKey)).toBe(1);
  });

  it('finds by email (any casing), offer glob and since, narrowed by destination and state, page by page', async () => {
    const prefix = uniquePrefix('lfind');
    const relay = open(prefix);
    const t0 = Date.now() - 60_000;
    const mine: string[] = [];
    // Seven leads of one person over two offers, one of another person; times one second apart, oldest first.
    for (let i = 0; i < 7; i++) {
      const l = lead('ada@contoso.example', i % 2 ? 'fabrikam.crm' : 'contoso.app');
      await relay.accept(l, { clientId: true, now: new Date(t0 + i * 1000) });
      mine.unshift(l.id);
    }
    const other = lead('bob@contoso.example', 'fabrikam.crm');
    await relay.accept(other, { clientId: true, now: new Date(t0 + 10_000) });

    expect((await relay.findLeads({ email: ' ADA@Contoso.example ' })).leads.map((x) => x.id)).toEqual(mine);
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await relay.findLeads({ email: 'ada@contoso.example', limit: 3, ...(cursor ? { cursor } : {}) });
      pages.push(page.leads.map((x) => x.id));
      cursor = page.cursor;
    } while (cursor);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual(mine);

    const fabrikam = await relay.findLeads({ offer: 'FABRIKAM.*' });
    expect(fabrikam.leads.map((x) => x.id)).toEqual([other.id, mine[1], mine[3], mine[5]]);
    expect(fabrikam.leads.every((x) => x.offer === 'fabrikam.crm' && x.deliveries.b === 'queued')).toBe(true);
    expect((await relay.findLeads({ offer: 'contoso.*' })).leads.length).toBe(4);
    expect((await relay.findLeads({ offer: 'nothing.*' })).leads).toEqual([]);

    const recent = await relay.findLeads({ since: t0 + 4500 });
    expect(recent.leads.map((x) => x.id)).toEqual([other.id, ...mine.slice(0, 2)]);
    expect((await relay.findLeads({ since: t0 - 1, destination: 'b' })).leads.length).toBe(4);
    // Every lead of the person is queued at a and skipped or queued at b.
    expect((await relay.findLeads({ email: 'ada@contoso.example', state: 'skipped', destination: 'b' })).leads.length).toBe(4);
    expect((await relay.findLeads({ email: 'ada@contoso.example', state: 'dead' })).leads).toEqual([]);
    const hit = (await relay.findLeads({ email: 'ada@contoso.example', limit: 1 })).leads[0]!;
    expect(hit).toMatchObject({ id: mine[0], customer: { email: 'ada@contoso.example' }, deliveries: { a: 'queued', b: 'skipped' } });
    await expect(relay.findLeads({ state: 'dead' })).rejects.toThrow(/email, an offer or a since/);
    await expect(relay.findLeads({ email: 'x@y.z', cursor: 'garbage' })).rejects.toThrow(/cursor/);
  });

  it('drops entries past retention (trimmed on write and read) and leads whose record expired', async () => {
    const prefix = uniquePrefix('lexp');
    const relay = open(prefix, 'leads: { retention: 1h }\ndeadLetters: { retention: 1h }');
    const old = lead('old@contoso.example');
    await relay.accept(old, { clientId: true, now: new Date(Date.now() - 2 * 3_600_000) });
    // Its record is still in Redis (its TTL counts from now), but it was received before the horizon.
    expect(await relay.leads.exists(old.id)).toBe(true);
    expect((await relay.findLeads({ email: 'old@contoso.example' })).leads).toEqual([]);
    const fresh = lead('new@contoso.example');
    await relay.accept(fresh, { clientId: true });
    const tag = relay.keys.leadIndexTag(old.id);
    expect(await redis.zscore(relay.keys.leadIndex(tag, 'time'), old.id)).toBeNull();
    expect(await redis.zcard(relay.leads.index.emailKey(old.id, 'old@contoso.example'))).toBe(0);
    expect((await relay.findLeads({ since: Date.now() - 3 * 3_600_000 })).leads.map((x) => x.id)).toEqual([fresh.id]);
    // A record that expired (here: deleted, as its TTL would) is not shown though its entry is within the horizon.
    await redis.del(relay.keys.lead(fresh.id));
    expect((await relay.findLeads({ email: 'new@contoso.example' })).leads).toEqual([]);
    expect((await relay.findLeads({ offer: 'contoso.*' })).leads).toEqual([]);
  });
});
