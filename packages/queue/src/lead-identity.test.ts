import { afterEach, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '@leadrelay/config';
import { parseJsonLead, type Lead } from '@leadrelay/core';
import { uniquePrefix } from '../../../test/helpers/unique.js';
import { Relay } from './relay.js';
import type { KeyLayout } from './key-space.js';

function relay(dedupe = '', keyLayout: KeyLayout = 'single-slot'): Relay {
  return new Relay(parseConfig(`
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('identity')} }
intake: { apiKeys: ["0123456789abcdef0123"] }
${dedupe}
destinations:
  - { id: crm, type: https, url: "https://crm.example/hook" }
  - { id: table, type: https, url: "https://table.example/hook" }
`, 'test.yaml', { env: {} }), { keyLayout });
}

/** One customer action as each source would bring it: its own id, the same person, offer and action. */
function lead(id: string, body: Record<string, unknown> = {}): Lead {
  const r = parseJsonLead({ id, source: 'AzureMarketplace', action: 'INS', offer: 'contoso.widget', customer: { email: 'Ada@Contoso.com ', firstName: 'Ada' }, ...body });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.lead;
}

async function queued(r: Relay): Promise<number> {
  const counts = await Promise.all(['crm', 'table'].map((d) => r.queue(d).getJobCounts('waiting')));
  return counts.reduce((n, c) => n + c.waiting!, 0);
}

describe('one record per real lead: the same customer action from several sources', () => {
  let r: Relay;
  afterEach(async () => r?.close());

  for (const layout of ['single-slot', 'spread'] as const) {
    it(`merges a table row and a referral into the webhook's lead, noting each source (${layout})`, async () => {
      r = relay('', layout);
      const first = await r.accept(lead('webhook-1'), { clientId: true, origin: 'webhook' });
      expect(first).toMatchObject({ id: 'webhook-1', duplicate: false });
      const fromTable = await r.accept(lead('row-77', { customer: { email: 'ada@contoso.com' } }), { clientId: true, origin: 'azure-table:mkt' });
      expect(fromTable).toEqual({ id: 'webhook-1', duplicate: true, destinations: ['crm', 'table'], mergedFrom: 'row-77' });
      const fromReferral = await r.accept(lead('ref-5'), { clientId: true, origin: 'referrals:pc' });
      expect(fromReferral).toMatchObject({ id: 'webhook-1', duplicate: true, mergedFrom: 'ref-5' });
      // The table's poll retried: noted once.
      await r.accept(lead('row-77'), { clientId: true, origin: 'azure-table:mkt' });

      expect(await queued(r)).toBe(2);
      expect(await r.status('row-77')).toBeUndefined();
      const status = await r.status('webhook-1');
      expect(status?.seenBy?.map((s) => [s.leadId, s.origin])).toEqual([['webhook-1', 'webhook'], ['row-77', 'azure-table:mkt'], ['ref-5', 'referrals:pc']]);
    });
  }

  it('merges on the step-by-step path too (a lead that carries intake warnings)', async () => {
    r = relay();
    await r.accept(lead('a-1'), { clientId: true, origin: 'webhook', warnings: [{ field: 'customer.phone', message: 'dropped' }] });
    const second = await r.accept(lead('b-1'), { clientId: true, origin: 'azure-table:mkt', warnings: [{ field: 'customer.phone', message: 'dropped' }] });
    expect(second).toMatchObject({ id: 'a-1', duplicate: true, mergedFrom: 'b-1' });
    expect(await queued(r)).toBe(2);
  });

  it('keeps another action, another offer, another person and test leads apart', async () => {
    r = relay();
    await r.accept(lead('l-1'), { clientId: true });
    const others = [
      lead('l-2', { action: 'PLT' }),
      lead('l-3', { offer: 'contoso.other' }),
      lead('l-4', { customer: { email: 'grace@contoso.com' } }),
      { ...lead('l-5'), testLead: true },
      { ...lead('l-6'), testLead: true },
    ];
    for (const l of others) expect(await r.accept(l, { clientId: true })).toMatchObject({ id: l.id, duplicate: false });
    expect(await queued(r)).toBe(12);
  });

  it('dedupe.customer merge-window makes Contact me, Get it now and Create of one customer one lead', async () => {
    r = relay('dedupe: { customer: merge-window }');
    await r.accept(lead('c-1', { action: 'INS' }), { clientId: true });
    expect(await r.accept(lead('c-2', { action: 'PLT' }), { clientId: true })).toMatchObject({ id: 'c-1', duplicate: true });
    expect(await r.accept(lead('c-3', { action: 'Create' }), { clientId: true })).toMatchObject({ id: 'c-1', duplicate: true });
    expect(await r.accept(lead('c-4', { offer: 'contoso.other' }), { clientId: true })).toMatchObject({ id: 'c-4', duplicate: false });
  });

  it('a second arrival after dedupe.window is a lead of its own; window 0s turns merging off', async () => {
    r = relay('dedupe: { window: 300ms }');
    await r.accept(lead('w-1'), { clientId: true });
    await new Promise((res) => setTimeout(res, 400));
    expect(await r.accept(lead('w-2'), { clientId: true })).toMatchObject({ id: 'w-2', duplicate: false });
    expect(await r.accept(lead('w-3'), { clientId: true })).toMatchObject({ id: 'w-2', duplicate: true });
    await r.close();
    r = relay('dedupe: { window: 0s }');
    await r.accept(lead('o-1'), { clientId: true });
    expect(await r.accept(lead('o-2'), { clientId: true })).toMatchObject({ id: 'o-2', duplicate: false });
  });

  it('never merges into a lead that is gone: the next arrival is accepted and holds the identity', async () => {
    r = relay();
    await r.accept(lead('gone-1'), { clientId: true });
    await r.redis.del(r.keys.lead('gone-1'));
    expect(await r.accept(lead('next-1'), { clientId: true })).toMatchObject({ id: 'next-1', duplicate: false });
    expect(await r.accept(lead('next-2'), { clientId: true })).toMatchObject({ id: 'next-1', duplicate: true });
  });

  it('twenty arrivals of one action at once become one lead, queued once per destination', async () => {
    r = relay();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => r.accept(lead(`race-${i}`), { clientId: true, origin: `source-${i}` })));
    const ids = new Set(results.map((x) => x.id));
    expect(ids.size).toBe(1);
    expect(results.filter((x) => !x.duplicate)).toHaveLength(1);
    expect(await queued(r)).toBe(2);
    expect((await r.status([...ids][0]!))?.seenBy).toHaveLength(20);
  });
});
