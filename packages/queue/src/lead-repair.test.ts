import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '@leadrelay/config';
import { parseJsonLead, type Lead } from '@leadrelay/core';
import { uniquePrefix } from '../../../test/helpers/unique.js';
import type { KeyLayout } from './key-space.js';
import { LeadAudit } from './lead-audit.js';
import { LeadRepair } from './lead-repair.js';
import { Relay } from './relay.js';

function lead(n: number, tag: string): Lead {
  const r = parseJsonLead({ source: 'SPZA', action: 'INS', offer: 'contoso.app', customer: { email: `r${n}.${tag}@contoso.com` }, createdAt: '2026-01-02T03:04:05.000Z' });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.lead;
}

describe.each<KeyLayout>(['spread', 'single-slot'])('LeadRepair (%s layout)', (layout) => {
  const relay = new Relay(parseConfig(`
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('rp')} }
intake: { apiKeys: ["0123456789abcdef0123"] }
destinations:
  - { id: a, type: https, url: "https://a.example/hook" }
  - { id: b, type: https, url: "https://b.example/hook" }
  - { id: c, type: https, url: "https://c.example/hook", match: { actions: [PLT] } }
`, 'x.yaml', { env: {} }), { keyLayout: layout });
  afterAll(() => relay.close());

  const audit = async () => {
    const a = new LeadAudit(relay.redis, relay.keys, { configured: ['a', 'b', 'c'] });
    return a.run().finally(() => a.close());
  };

  it('finishes leads whose accept stopped after the lead record (no job, or some jobs), once, and leaves fresh ones alone', async () => {
    const tag = uniquePrefix('x');
    const [whole, noJobs, oneJob, fresh] = [lead(1, tag), lead(2, tag), lead(3, tag), lead(4, tag)];
    const ab = [relay.destination('a'), relay.destination('b')];
    const hourAgo = new Date(Date.now() - 3_600_000);
    await relay.accept(whole, { clientId: true, now: hourAgo });
    // Crashes midway: the lead record written, then nothing; the record and the first add, then nothing.
    await relay.leads.begin(noJobs, hourAgo, ['a', 'b'], ['c']);
    await relay.leads.begin(oneJob, hourAgo, ['a', 'b'], ['c']);
    await relay.enqueue(oneJob, [ab[0]!]);
    await relay.leads.begin(fresh, new Date(), ['a', 'b'], ['c']);

    const before = await audit();
    expect(before.leads).toBe(1);
    expect(before.destinations.find((d) => d.destination === 'a')?.unaccountedJobs).toBe(1);

    const dry = await new LeadRepair(relay, { dryRun: true }).run();
    expect(dry.repaired.sort((x, y) => x.leadId.localeCompare(y.leadId))).toEqual([{ leadId: noJobs.id, jobsAdded: ['a', 'b'] }, { leadId: oneJob.id, jobsAdded: ['b'] }].sort((x, y) => x.leadId.localeCompare(y.leadId)));
    expect((await audit()).leads).toBe(1);

    const report = await new LeadRepair(relay).run();
    expect(report.scanned).toBe(4);
    expect(report.repaired.map((r) => r.leadId).sort()).toEqual([noJobs.id, oneJob.id].sort());
    const after = await audit();
    expect(after).toMatchObject({ leads: 3, balanced: true, lostTotal: 0 });
    expect(after.destinations.map((d) => [d.destination, d.accepted, d.waiting, d.skipped, d.unaccountedJobs])).toEqual([['a', 3, 3, 0, 0], ['b', 3, 3, 0, 0], ['c', 3, 0, 3, 0]]);
    for (const d of ['a', 'b']) expect(await relay.queue(d).getWaitingCount()).toBe(3);
    expect((await relay.status(noJobs.id))?.deliveries).toMatchObject({ a: { state: 'queued' }, b: { state: 'queued' }, c: { state: 'skipped' } });
    // The client's own retry of a repaired lead is a duplicate; a second sweep finds nothing to do.
    expect(await relay.accept(oneJob, { clientId: true })).toMatchObject({ duplicate: true });
    expect((await new LeadRepair(relay).run()).repaired).toEqual([]);
    expect(await relay.leads.acceptedDestinations(fresh.id)).toBeUndefined();
  });

  it('does not queue again a destination whose record moved on (a worker took the job before the crash)', async () => {
    const tag = uniquePrefix('y');
    const l = lead(5, tag);
    await relay.leads.begin(l, new Date(Date.now() - 3_600_000), ['a', 'b'], ['c']);
    await relay.leads.recordAttempt(l.id, 'a', { state: 'delivered', attempts: 1 });
    const report = await new LeadRepair(relay).run();
    expect(report.repaired.find((r) => r.leadId === l.id)).toEqual({ leadId: l.id, jobsAdded: ['b'] });
    expect(await relay.queue('a').getJob(relay.keys.jobId('a', l.id))).toBeUndefined();
    expect(await relay.queue('b').getJob(relay.keys.jobId('b', l.id))).toBeDefined();
  });
});
