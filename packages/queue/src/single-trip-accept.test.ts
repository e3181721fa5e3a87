import { createRequire } from 'node:module';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '@leadrelay/config';
import { parseJsonLead, type Lead } from '@leadrelay/core';
import { uniquePrefix } from '../../../test/helpers/unique.js';
import { Relay } from './relay.js';
import { InsertArgsCache, type FanOutTarget } from './single-trip-accept.js';

const yaml = (prefix: string) => `
redis: { url: "${inject('redisUrl')}", prefix: ${prefix} }
intake: { apiKeys: ["0123456789abcdef0123"], dedupeWindow: 1h }
destinations:
  - { id: a, type: https, url: "https://a.example/hook" }
  - { id: b, type: https, url: "https://b.example/hook" }
  - { id: c, type: https, url: "https://c.example/hook", match: { actions: [PLT] } }
`;

function lead(n: number): Lead {
  const r = parseJsonLead({ source: 'SPZA', action: 'INS', offer: 'contoso.app', customer: { email: `x${n}@contoso.com` }, createdAt: '2026-01-02T03:04:05.000Z' });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.lead;
}

/**
 * Every key under a prefix with its type and content, timestamps and the prefix itself normalised. A
 * queue's meta `version` is left out: the three-trip path adds several jobs through a FlowProducer,
 * which (unlike a Queue) does not write it.
 */
async function snapshot(redis: Redis, prefix: string): Promise<Record<string, unknown>> {
  const keys = (await redis.keys(`{${prefix}}*`)).sort();
  const out: Record<string, unknown> = {};
  const norm = (v: string) => v.replaceAll(prefix, 'P').replace(/\d{13}/g, 'T').replace(/\d{13}-\d+/g, 'T-0');
  for (const k of keys) {
    const type = await redis.type(k);
    const name = norm(k);
    if (type === 'hash') {
      const h = await redis.hgetall(k);
      out[name] = Object.fromEntries(Object.entries(h).filter(([f]) => !['timestamp', 'receivedAt', 'accepted', 'version'].includes(f)).map(([f, v]) => [f, norm(v)]));
    } else if (type === 'list') out[name] = (await redis.lrange(k, 0, -1)).map(norm);
    // Members sorted: leads accepted in the same millisecond are ordered by id, else by time, which the two runs need not share.
    else if (type === 'zset') out[name] = (await redis.zrange(k, 0, -1)).map(norm).sort();
    else if (type === 'stream') out[name] = (await redis.xrange(k, '-', '+')).map(([, fields]) => fields.map(norm));
    else if (type === 'string') out[name] = norm((await redis.get(k)) ?? '');
    else out[name] = type;
  }
  return out;
}

describe('single-trip accept', () => {
  const relays: Relay[] = [];
  const redis = new Redis(inject('redisUrl'));
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.close()));
  });

  it('leaves exactly what the three-trip path leaves (lead record, dedupe entry, BullMQ jobs, wait lists, markers, events)', async () => {
    const one = uniquePrefix('one');
    const three = uniquePrefix('three');
    const r1 = new Relay(parseConfig(yaml(one), 'x.yaml', { env: {} }));
    const r3 = new Relay(parseConfig(yaml(three), 'x.yaml', { env: {} }));
    relays.push(r1, r3);
    // The three-trip path, as on a Cluster.
    Object.defineProperty((r3 as unknown as { singleTrip: object }).singleTrip, 'available', { value: false });
    // A traced lead's job carries its trace fields after the lead (the one-trip script puts that JSON together itself).
    const trace = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'leadrelay=1' };
    for (const r of [r1, r3]) {
      for (let n = 0; n < 3; n++) expect(await r.accept(lead(n), { clientId: false })).toMatchObject({ duplicate: false, destinations: ['a', 'b'] });
      expect(await r.accept(lead(3), { clientId: false, trace })).toMatchObject({ duplicate: false });
      expect(await r.accept(lead(4), { clientId: false, trace: { traceparent: trace.traceparent } })).toMatchObject({ duplicate: false });
      // A repeat is a duplicate and queues nothing.
      expect(await r.accept(lead(0), { clientId: false })).toMatchObject({ duplicate: true, destinations: ['a', 'b'] });
    }
    const s1 = await snapshot(redis, one);
    expect(Object.keys(s1).length).toBeGreaterThan(10);
    expect(s1).toEqual(await snapshot(redis, three));
    // And the jobs read back through BullMQ like any added job.
    const job = await r1.queue('a').getJob(`a.${lead(1).id}`);
    expect(job?.data.lead).toEqual(lead(1));
    expect(job?.data).toStrictEqual({ lead: lead(1) });
    expect((await r1.queue('b').getJob(`b.${lead(3).id}`))?.data).toStrictEqual({ lead: lead(3), ...trace });
    expect((await r1.queue('a').getJob(`a.${lead(4).id}`))?.data).toStrictEqual({ lead: lead(4), traceparent: trace.traceparent });
    expect(job?.opts).toMatchObject({ attempts: 82, backoff: { type: 'leadrelay-jitter' }, removeOnComplete: { age: 3600, count: 5000 } });
    expect(await r1.queue('b').getWaitingCount()).toBe(5);
    expect(await r1.queue('c').getWaitingCount()).toBe(0);
  });

  it('stores any text the three-trip path would (quotes, backslashes, control characters, emoji, lone surrogates)', async () => {
    const one = uniquePrefix('one');
    const three = uniquePrefix('three');
    const r1 = new Relay(parseConfig(yaml(one), 'x.yaml', { env: {} }));
    const r3 = new Relay(parseConfig(yaml(three), 'x.yaml', { env: {} }));
    relays.push(r1, r3);
    Object.defineProperty((r3 as unknown as { singleTrip: object }).singleTrip, 'available', { value: false });
    const texts = ['"quoted" \\back\\slash\\u0041', 'tab\tnew\nline\u0000nul\u007f', 'émoji 🚀 中文', 'lone \ud800 high', 'lone \udfff low', '\\ud83d not one'];
    const leads = texts.map((t, n) => {
      const r = parseJsonLead({ source: 'SPZA', action: 'INS', offer: `contoso.${n}${t.slice(0, 8)}`, customer: { email: `t${n}@contoso.com`, firstName: t, company: t }, description: t });
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      return r.lead;
    });
    for (const r of [r1, r3]) for (const l of leads) expect(await r.accept(l, { clientId: false })).toMatchObject({ duplicate: false });
    const s1 = await snapshot(redis, one);
    expect(JSON.stringify(s1)).toContain('🚀');
    expect(s1).toEqual(await snapshot(redis, three));
    // The offer index holds the offer as sent, UTF-8 (a lone surrogate as U+FFFD); the jobs read back alike.
    expect(Object.keys(s1).some((k) => k.includes('contoso.3lone \ufffd'))).toBe(true);
    for (const l of leads) expect((await r1.queue('a').getJob(`a.${l.id}`))?.data).toEqual((await r3.queue('a').getJob(`a.${l.id}`))?.data);
  });

  it('accepts a new lead with one Redis command, and a lead posted many times at once is queued once', async () => {
    const prefix = uniquePrefix('trip');
    const r = new Relay(parseConfig(yaml(prefix), 'x.yaml', { env: {} }));
    relays.push(r);
    await r.ping();
    const sent: string[] = [];
    const send = r.redis.sendCommand.bind(r.redis);
    r.redis.sendCommand = ((cmd: { name: string }) => { sent.push(cmd.name); return send(cmd as never); }) as typeof r.redis.sendCommand;
    const results = await Promise.all(Array.from({ length: 8 }, () => r.accept(lead(9), { clientId: false })));
    expect(results.filter((x) => !x.duplicate)).toHaveLength(1);
    expect(new Set(results.map((x) => x.id)).size).toBe(1);
    sent.length = 0;
    await r.accept(lead(10), { clientId: false });
    expect(sent).toEqual(['evalsha']);
    expect(await r.queue('a').getWaitingCount()).toBe(2);
    expect(await r.queue('b').getWaitingCount()).toBe(2);
    expect((await r.status(lead(10).id))?.deliveries).toEqual({ a: { state: 'queued', attempts: 0 }, b: { state: 'queued', attempts: 0 }, c: { state: 'skipped', attempts: 0 } });
  });

  it("re-packs BullMQ's insert arguments for later jobs of a queue byte for byte as BullMQ builds them", async () => {
    const queue = new Queue(uniquePrefix('tpl'), { connection: redis });
    const msgpack = createRequire(createRequire(import.meta.url).resolve('bullmq'))('msgpackr') as { unpack(b: Buffer): unknown[] };
    try {
      const target = (jobId: string, attempts = 7): FanOutTarget => ({
        queue, finished: { keys: [], args: [] },
        opts: { jobId, attempts, backoff: { type: 'leadrelay-jitter' }, removeOnComplete: { age: 3600, count: 5000 }, removeOnFail: false, stackTraceLimit: 0 },
      });
      // Keys and options byte for byte (Buffers as hex: msgpackr's are views of a shared buffer, which toEqual
      // would compare too); the packed arguments unpacked, as their timestamp is the time of the call.
      const compared = (args: unknown[] | undefined) => {
        const unpacked = msgpack.unpack(args![9] as Buffer);
        expect(Math.abs(Number(unpacked[3]) - Date.now())).toBeLessThan(60_000);
        return [...args!.slice(0, 9), { ...unpacked, 3: 'now' }, args![10], (args![11] as Buffer).toString('hex')];
      };
      const cache = new InsertArgsCache();
      expect(cache.args(target('a.first'))).toHaveLength(12);
      expect(cache.templated).toBe(0);
      for (const jobId of ['a.h0123456789abcdef0123456789abcdef', `a.${'x'.repeat(300)}`, 'a.ünïcödé']) {
        const fast = compared(cache.args(target(jobId)));
        expect(fast).toEqual(compared(new InsertArgsCache().args(target(jobId))));
        expect(fast[9]).toMatchObject({ 1: jobId });
        expect(fast[11]).toContain(Buffer.from(jobId).toString('hex'));
      }
      expect(cache.templated).toBe(3);
      // Other options than the template's: BullMQ builds the job.
      expect(compared(cache.args(target('a.other', 3)))).toEqual(compared(new InsertArgsCache().args(target('a.other', 3))));
      expect(cache.templated).toBe(3);
    } finally {
      await queue.close();
    }
  });
});
