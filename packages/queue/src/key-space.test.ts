import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '@leadrelay/config';
import { parseJsonLead, type Lead } from '@leadrelay/core';
import { uniquePrefix } from '../../../test/helpers/unique.js';
import { hashTag, KeySpace } from './key-space.js';
import { LeadAudit } from './lead-audit.js';
import { Relay } from './relay.js';

describe('KeySpace', () => {
  it('single-slot: every key under {prefix} (the names a single Redis has always used)', () => {
    const k = new KeySpace('lr');
    expect([k.lead('a1'), k.timeline('a1'), k.dedupe('a1'), k.destination('hook'), k.counter('hook', 'delivered', 7), k.bullPrefix('hook'), k.queueKey('hook', 'wait')])
      .toEqual(['{lr}:lead:a1', '{lr}:timeline:a1', '{lr}:dedupe:a1', '{lr}:dest:hook', '{lr}:count:hook:delivered:7', '{lr}:q', '{lr}:q:hook:wait']);
    expect(k.leadIdOfKey('{lr}:lead:a1')).toBe('a1');
    expect(k.queueOfMetaKey('{lr}:q:hook:meta')).toBe('hook');
    expect(k.queueOfMetaKey('{lr}:q:hook:hook.x:meta')).toBeUndefined();
  });

  it('spread: a destination\'s queue and state share {prefix:destination}; a lead\'s keys share one of N lead shards', () => {
    const k = new KeySpace('lr', { layout: 'spread', leadShards: 8 });
    expect(k.queueKey('hook', 'wait')).toBe('{lr:hook}:q:hook:wait');
    for (const key of [k.destination('hook'), k.counter('hook', 'dead', 3), k.alert('hook', 'dead'), k.quota('hook', 'daily'), k.keyLock('hook', 'lookup', 'ab12')]) expect(hashTag(key)).toBe('lr:hook');
    const shards = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const id = `lead-${i}`;
      const tag = hashTag(k.lead(id));
      expect(tag).toMatch(/^lr:lead-[0-7]$/);
      expect(hashTag(k.timeline(id))).toBe(tag);
      expect(hashTag(k.dedupe(id))).toBe(tag);
      expect(k.leadIdOfKey(k.lead(id))).toBe(id);
      shards.add(tag);
    }
    expect(shards.size).toBe(8);
    expect(new KeySpace('lr', { layout: 'spread', leadShards: 8 }).lead('lead-1')).toBe(k.lead('lead-1'));
    expect(k.queueOfMetaKey('{lr:hook}:q:hook:meta')).toBe('hook');
    // A queue's meta under another destination's tag is not one of ours.
    expect(k.queueOfMetaKey('{lr:other}:q:hook:meta')).toBeUndefined();
    expect(k.sameSlot(k.lead('a'), k.destination('hook'))).toBe(false);
    // A lead identity lives in the shard of its own key; a source's state keeps the name it has in the single-slot layout.
    expect(hashTag(k.identity('i0123'))).toMatch(/^lr:lead-[0-7]$/);
    expect(k.source('old-table')).toBe(new KeySpace('lr').source('old-table'));
    expect(k.source('old-table')).toBe('{lr}:source:old-table');
  });
});

function lead(n: number, tag: string): Lead {
  const r = parseJsonLead({ source: 'SPZA', action: 'INS', offer: 'contoso.app', customer: { email: `k${n}.${tag}@contoso.com` }, createdAt: '2026-01-02T03:04:05.000Z' });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.lead;
}

describe('Relay in the spread layout', () => {
  const redis = new Redis(inject('redisUrl'));
  const prefix = uniquePrefix('ks');
  const config = parseConfig(`
redis: { url: "${inject('redisUrl')}", prefix: ${prefix} }
intake: { apiKeys: ["0123456789abcdef0123"], dedupeWindow: 50ms }
destinations:
  - { id: a, type: https, url: "https://a.example/hook" }
  - { id: b, type: https, url: "https://b.example/hook" }
`, 'x.yaml', { env: {} });
  const relay = new Relay(config, { keyLayout: 'spread' });
  afterAll(async () => {
    await relay.close();
    redis.disconnect();
  });

  it('accepts, records attempts, counts once and audits with keys in per-destination and per-shard slots', async () => {
    const tag = uniquePrefix('l');
    const ids: string[] = [];
    for (let n = 0; n < 20; n++) ids.push((await relay.accept(lead(n, tag), { clientId: false })).id);
    expect(await redis.llen(`{${prefix}:a}:q:a:wait`)).toBe(20);
    expect(await redis.exists(`{${prefix}}:lead:${ids[0]}`)).toBe(0);
    expect(await redis.exists(relay.keys.lead(ids[0]!))).toBe(1);

    // Delivered twice (a stale worker's repeat): counted once, in the destination's slot.
    expect(await relay.leads.recordAttempt(ids[0]!, 'a', { state: 'delivered', attempts: 1 }, { destination: 'a', at: new Date().toISOString(), outcome: 'delivered', attempt: 1, durationMs: 5 })).toBe(true);
    await relay.leads.recordAttempt(ids[0]!, 'a', { state: 'delivered', attempts: 1 });
    // A later failure of a stale attempt does not undo it.
    expect(await relay.leads.recordAttempt(ids[0]!, 'a', { state: 'retrying', attempts: 2 })).toBe(false);
    expect(await redis.get(`{${prefix}:a}:count:a:delivered`)).toBe('1');
    expect(await redis.hget(`{${prefix}:a}:dest:a`, 'recent')).toBe('o');
    expect((await relay.status(ids[0]!))?.deliveries.a?.state).toBe('delivered');

    // Same content after the dedupe window: a new id, possibly in another shard than its content's dedupe entry.
    await new Promise((r) => setTimeout(r, 80));
    const again = await relay.accept(lead(1, tag), { clientId: false });
    expect(again.id).not.toBe(ids[1]);
    expect(await redis.get(relay.keys.dedupe(ids[1]!))).toBe(again.id);

    const audit = new LeadAudit(relay.redis, relay.keys, { configured: ['a', 'b'] });
    const report = await audit.run().finally(() => audit.close());
    expect(report).toMatchObject({ leads: 21, balanced: true });
    expect(report.destinations.map((d) => [d.destination, d.accepted, d.delivered, d.waiting])).toEqual([['a', 21, 1, 20], ['b', 21, 0, 21]]);
  });
});
