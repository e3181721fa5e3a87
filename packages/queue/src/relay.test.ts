import { afterEach, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '@leadrelay/config';
import { parseJsonLead, type Lead } from '@leadrelay/core';
import { uniquePrefix } from '../../../test/helpers/unique.js';
import { Relay } from './relay.js';

function relay(extra = ''): Relay {
  return new Relay(parseConfig(`
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('relay')} }
intake: { apiKeys: ["0123456789abcdef0123"], dedupeWindow: 300ms }
destinations:
  - { id: a, type: https, url: "https://a.example/hook" }
  - { id: b, type: https, url: "https://b.example/hook", match: { actions: [PLT] } }
${extra}`, 'test.yaml', { env: {} }));
}

function lead(body: Record<string, unknown> = {}): Lead {
  const r = parseJsonLead({ source: 'SPZA', action: 'INS', offer: 'contoso.app', customer: { email: 'x@contoso.com' }, ...body });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.lead;
}

describe('Relay.accept', () => {
  let r: Relay;
  afterEach(async () => r?.close());

  it('queues one job per matched destination and records skipped ones', async () => {
    r = relay();
    const res = await r.accept(lead(), { clientId: false });
    expect(res).toMatchObject({ duplicate: false, destinations: ['a'] });
    expect(await r.queue('a').getJobCounts('waiting')).toEqual({ waiting: 1 });
    expect(await r.queue('b').getJobCounts('waiting')).toEqual({ waiting: 0 });
    const status = await r.status(res.id);
    expect(status?.deliveries).toEqual({ a: { state: 'queued', attempts: 0 }, b: { state: 'skipped', attempts: 0 } });
  });

  it('fans out to several destinations in one step and answers repeats as duplicates without queueing twice', async () => {
    r = relay();
    const l = lead({ id: 'client-1', action: 'PLT' });
    const results = await Promise.all(Array.from({ length: 5 }, () => r.accept(l, { clientId: true })));
    expect(results.filter((x) => !x.duplicate)).toHaveLength(1);
    expect(results.every((x) => x.id === 'client-1' && x.destinations.join() === 'a,b')).toBe(true);
    expect(await r.queue('a').getJobCounts('waiting')).toEqual({ waiting: 1 });
    expect(await r.queue('b').getJobCounts('waiting')).toEqual({ waiting: 1 });
  });

  it('treats identical id-less leads as one inside the dedupe window and as a new lead after it', async () => {
    r = relay();
    const first = await r.accept(lead(), { clientId: false });
    const again = await r.accept(lead(), { clientId: false });
    expect(again).toEqual({ ...first, duplicate: true });
    await new Promise((res) => setTimeout(res, 400));
    const later = await r.accept(lead(), { clientId: false });
    expect(later.duplicate).toBe(false);
    expect(later.id).not.toBe(first.id);
    expect(later.id.startsWith(`${first.id}-`)).toBe(true);
    const laterAgain = await r.accept(lead(), { clientId: false });
    expect(laterAgain).toEqual({ ...later, duplicate: true });
    expect(await r.queue('a').getJobCounts('waiting')).toEqual({ waiting: 2 });
  });
});
