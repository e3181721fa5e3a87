import { TableClient, type TableTransaction } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig, type LeadRelayConfig } from '@leadrelay/config';
import { silentLogger } from '@leadrelay/observability';
import { Relay } from '@leadrelay/queue';
import { parseJsonLead } from '@leadrelay/core';
import { Registry } from 'prom-client';
import { Azurite } from '../../../test/helpers/azurite.js';
import { closeSources, queuedCount, runPoll } from '../../../test/helpers/source-polls.js';
import { uniquePrefix } from '../../../test/helpers/unique.js';
import { createPullSource } from './create-pull-source.js';
import { SourceService } from './source-service.js';
import { TableSource } from './table-source.js';

let azurite: Azurite;
beforeAll(async () => { azurite = await Azurite.start(); });
afterAll(async () => { await azurite.stop(); });

const HOOK = '  - { id: hook, type: https, url: "https://hooks.example.com/leads" }';

function configFor(table: string, extra = '', destinations = HOOK): LeadRelayConfig {
  return parseConfig(`
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('src')} }
intake: { apiKeys: ["test-key-0123456789abcdef"] }
sources:
  - id: old-table
    type: azure-table
    connectionString: "${azurite.connectionString}"
    table: ${table}
    start: all
${extra}
destinations:
${destinations}
`, 'test.yaml', { env: {} });
}

function row(n: number, partition = 'p') {
  return {
    partitionKey: partition, rowKey: `lead-${String(n).padStart(6, '0')}`,
    LeadSource: 'AzureMarketplace-INS|contoso.widget', ActionCode: 'INS', OfferDisplayName: 'Widget', Description: `row ${n}`,
    CreatedTime: new Date(Date.UTC(2024, 0, 1, 0, 0, n % 60)).toISOString(),
    CustomerInfo: JSON.stringify({ FirstName: 'Ada', LastName: `L${n}`, Email: `ada${n}@contoso.com`, Company: 'Contoso', Country: 'US', Title: 'CTO', Phone: '1' }),
  };
}

async function writeRows(client: TableClient, from: number, to: number, partitions = 10): Promise<void> {
  const byPartition = new Map<string, ReturnType<typeof row>[]>();
  for (let n = from; n < to; n++) {
    const p = `p${n % partitions}`;
    byPartition.set(p, [...(byPartition.get(p) ?? []), row(n, p)]);
  }
  await Promise.all([...byPartition.values()].map(async (rows) => {
    for (let i = 0; i < rows.length; i += 100) {
      const tx: TableTransaction['actions'] = rows.slice(i, i + 100).map((r) => ['create', r]);
      await client.submitTransaction(tx);
    }
  }));
}

interface Harness { config: LeadRelayConfig; relay: Relay; service: SourceService; client: TableClient; registry: Registry }

async function harness(extra = '', settleMs = 300, pageSize?: number, destinations = HOOK): Promise<Harness> {
  const table = `T${uniquePrefix('x')}`;
  const config = configFor(table, `${pageSize ? `    pageSize: ${pageSize}\n` : ''}${extra}`, destinations);
  const client = TableClient.fromConnectionString(azurite.connectionString, table, { allowInsecureConnection: true });
  await client.createTable();
  const relay = new Relay(config, { role: 'blocking' });
  const registry = new Registry();
  const service = new SourceService({
    config, relay, logger: silentLogger, registry, schedule: false, retryDelayMs: 50, lockMs: 2000,
    createSource: async (s, r) => (s.type === 'azure-table' ? new TableSource(s, { settleMs }) : createPullSource(s, r)),
  });
  await service.start();
  return { config, relay, service, client, registry };
}

async function pollOnce(h: Harness): Promise<void> {
  const outcome = await runPoll(h.service, 'old-table');
  if (outcome !== 'completed') throw new Error(`poll failed: ${outcome}`);
}

const queued = (h: Harness) => queuedCount(h.relay, 'hook');
const close = closeSources;

describe('MarketplaceLeads table source on Azurite', () => {
  it('backfills 5,000 rows with start: all, each once, mapped to canonical leads; lag near zero after', async () => {
    const h = await harness('', 300);
    await writeRows(h.client, 0, 5000);
    const written = Date.now();
    await new Promise((r) => setTimeout(r, 350));
    const started = performance.now();
    await pollOnce(h);
    const seconds = (performance.now() - started) / 1000;
    expect(await queued(h)).toBe(5000);
    const lead = await h.relay.leads.getLead('lead-000042');
    expect(lead).toMatchObject({
      id: 'lead-000042', source: 'AzureMarketplace', action: 'INS', offer: 'contoso.widget', offerTitle: 'Widget', description: 'row 42',
      customer: { firstName: 'Ada', lastName: 'L42', email: 'ada42@contoso.com', company: 'Contoso', country: 'US', title: 'CTO', phone: '1' },
      createdAt: '2024-01-01T00:00:42.000Z', testLead: false, extra: { tablePartitionKey: 'p2', tableRowKey: 'lead-000042' },
    });
    const [health] = await h.service.health();
    expect(health).toMatchObject({ state: 'running', polls: 1, leadsFound: 5000 });
    // Read up to at least the newest row: the lag is no more than the time since the rows were written.
    expect(Date.parse(health!.caughtUpTo!.replace(/(\.\d{3})\d*Z$/, '$1Z'))).toBeGreaterThanOrEqual(written - 1000);
    const metrics = await h.registry.metrics();
    const lag = Number(/leadrelay_source_lag_seconds\{source="old-table"\} ([\d.]+)/.exec(metrics)?.[1]);
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(lag).toBeLessThanOrEqual((Date.now() - written) / 1000 + 1);
    expect(metrics).toContain('leadrelay_source_leads_total{source="old-table",outcome="accepted"} 5000');
    console.log(`table backfill: 5000 rows in ${seconds.toFixed(2)} s = ${Math.round(5000 / seconds)} leads/s; lag after ${lag.toFixed(2)} s`);
    // A second poll finds nothing new.
    await pollOnce(h);
    expect(await queued(h)).toBe(5000);
    expect(metrics).not.toContain('outcome="duplicate"');
    await close(h);
  }, 120_000);

  it('takes rows written while polls run, none lost, none twice', async () => {
    const h = await harness('', 200, 50);
    let n = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await h.client.createEntity(row(n++, `w${n % 3}`));
      }
    })();
    const polls = (async () => { for (let i = 0; i < 15; i++) { await pollOnce(h); await new Promise((r) => setTimeout(r, 30)); } })();
    await polls;
    writing = false;
    await writer;
    await new Promise((r) => setTimeout(r, 250));
    await pollOnce(h);
    expect(n).toBeGreaterThan(50);
    expect(await queued(h)).toBe(n);
    expect(await h.registry.metrics()).not.toContain('outcome="duplicate"');
    await close(h);
  }, 60_000);

  it('never skips nor repeats rows sharing one Timestamp across page boundaries', async () => {
    const h = await harness('', 200, 3);
    // One entity-group transaction: Azurite (like the service) may give its rows one Timestamp.
    await writeRows(h.client, 0, 40, 1);
    const stamps = new Map<string, number>();
    for await (const e of h.client.listEntities()) stamps.set(e.timestamp!, (stamps.get(e.timestamp!) ?? 0) + 1);
    await new Promise((r) => setTimeout(r, 250));
    await pollOnce(h);
    expect(await queued(h)).toBe(40);
    await writeRows(h.client, 40, 47, 1);
    await new Promise((r) => setTimeout(r, 250));
    await pollOnce(h);
    expect(await queued(h)).toBe(47);
    expect(await h.registry.metrics()).not.toContain('outcome="duplicate"');
    console.log(`shared-timestamp test: ${stamps.size} distinct Timestamps over 40 rows`);
    await close(h);
  }, 60_000);

  it('a poll that fails mid-page is retried from the last committed watermark: every row once', async () => {
    const h = await harness('', 200, 100);
    await writeRows(h.client, 0, 450);
    await new Promise((r) => setTimeout(r, 250));
    // Redis refuses writes partway through the third page, as when the worker dies there.
    const accept = h.relay.accept.bind(h.relay);
    let calls = 0;
    h.relay.accept = async (lead, o) => {
      if (++calls === 250) throw new Error('connection lost');
      return accept(lead, o);
    };
    await pollOnce(h);
    expect(await queued(h)).toBe(450);
    const [health] = await h.service.health();
    expect(health.failedPolls).toBe(1);
    expect(health.leadsFound).toBe(450);
    expect(await h.registry.metrics()).toContain('leadrelay_source_polls_total{source="old-table",outcome="failed"} 1');
    await close(h);
  }, 60_000);

  it('pauses the source with a remediation when the account key is wrong, and polls again once resumed', async () => {
    const bad = azurite.connectionString.replace(/AccountKey=[^;]+/, `AccountKey=${Buffer.alloc(64, 1).toString('base64')}`);
    const table = `T${uniquePrefix('x')}`;
    const config = configFor(table);
    (config.sources[0] as { connectionString: string }).connectionString = bad;
    const relay = new Relay(config, { role: 'blocking' });
    const service = new SourceService({ config, relay, logger: silentLogger, registry: new Registry(), schedule: false, retryDelayMs: 50, createSource: createPullSource });
    await service.start();
    const paused = new Promise((r) => service.once('source-paused', r));
    await service.pollNow('old-table');
    expect(await paused).toMatchObject({ source: 'old-table', remediation: expect.stringMatching(/connectionString/) });
    const [health] = await service.health();
    expect(health).toMatchObject({ state: 'paused', lastError: expect.stringMatching(/refused our credentials/) });
    expect(JSON.stringify(health)).not.toContain(Buffer.alloc(64, 1).toString('base64'));
    await service.close();
    await relay.close();
  }, 60_000);
});

/** A row as Microsoft writes it when a publisher presses Validate in Partner Center: MSFT_TEST_<ticks> everywhere. */
function testRow(n: number) {
  const marker = `MSFT_TEST_${638_700_000_000_000_000n + BigInt(n)}`;
  return {
    ...row(n), Description: marker,
    CustomerInfo: JSON.stringify({ FirstName: marker, LastName: marker, Email: `${marker}@test.com`, Company: marker, Country: 'US', Title: marker, Phone: '1234567890' }),
  };
}

describe('MSFT_TEST rows', () => {
  it('match.testLeads: false on the source filters a MSFT_TEST row (never accepted, counted filtered, not a reconciliation gap); real rows pass', async () => {
    const h = await harness('    match: { testLeads: false }', 200, 100);
    await writeRows(h.client, 0, 3);
    await h.client.createEntity(testRow(3));
    await new Promise((r) => setTimeout(r, 250));
    await pollOnce(h);
    expect(await queued(h)).toBe(3);
    expect(await h.relay.leads.getLead('lead-000003')).toBeUndefined();
    expect(await h.relay.status('lead-000003')).toBeUndefined();
    expect(await h.relay.leads.getLead('lead-000002')).toMatchObject({ testLead: false });
    const metrics = await h.registry.metrics();
    expect(metrics).toContain('leadrelay_source_leads_total{source="old-table",outcome="filtered"} 1');
    expect(metrics).toContain('leadrelay_source_leads_total{source="old-table",outcome="accepted"} 3');
    // The watermark moved past it: the next poll does not read it again.
    await pollOnce(h);
    expect(await h.registry.metrics()).toContain('leadrelay_source_leads_total{source="old-table",outcome="filtered"} 1');
    // Reconciliation expects it not to arrive: pending (filtered by the source's match), not missing.
    const report = await h.service.reconcileNow(new Date(Date.now() - 3_600_000));
    expect(report.missing).toEqual([]);
    expect(report.gap).toBe(false);
    expect(report.sources[0]).toMatchObject({ reported: 4, accepted: 3, pending: 1 });
    await close(h);
  }, 60_000);

  it('with match.testLeads: false on a destination, a MSFT_TEST row is accepted and skipped there, exactly as the same lead from the webhook', async () => {
    const h = await harness('', 200, 100, `${HOOK}\n  - { id: crm, type: https, url: "https://crm.example.com/leads", match: { testLeads: false } }`);
    await h.client.createEntity(testRow(7));
    await h.client.createEntity(row(8));
    await new Promise((r) => setTimeout(r, 250));
    await pollOnce(h);
    const fromTable = await h.relay.status('lead-000007');
    expect(await h.relay.leads.getLead('lead-000007')).toMatchObject({ testLead: true });
    expect(fromTable?.deliveries).toEqual({ hook: expect.objectContaining({ state: 'queued' }), crm: expect.objectContaining({ state: 'skipped' }) });
    expect((await h.relay.status('lead-000008'))?.deliveries).toEqual({ hook: expect.objectContaining({ state: 'queued' }), crm: expect.objectContaining({ state: 'queued' }) });
    expect(await queuedCount(h.relay, 'crm')).toBe(1);
    // The webhook's MSFT_TEST lead (what Microsoft posts on Validate) ends the same way.
    const webhook = parseJsonLead({
      UserDetails: { FirstName: 'MSFT_TEST_636573304831318844', LastName: 'MSFT_TEST_636573304831318844', Email: 'MSFT_TEST_636573304831318844@test.com', Company: 'MSFT_TEST_636573304831318844' },
      LeadSource: 'AzureMarketplace-INS|contoso.widget', ActionCode: 'INS', OfferTitle: 'Widget', Description: 'MSFT_TEST_636573304831318844',
    });
    if (!webhook.ok) throw new Error(JSON.stringify(webhook.errors));
    expect(webhook.lead.testLead).toBe(true);
    const accepted = await h.relay.accept(webhook.lead, { clientId: false, origin: 'webhook' });
    const fromWebhook = await h.relay.status(accepted.id);
    expect(Object.fromEntries(Object.entries(fromWebhook!.deliveries).map(([d, r]) => [d, r.state])))
      .toEqual(Object.fromEntries(Object.entries(fromTable!.deliveries).map(([d, r]) => [d, r.state])));
    await close(h);
  }, 60_000);
});

describe('one poll of a source at a time', () => {
  it('two SourceService instances (two workers) polling the same source at once: exactly one poll runs, the other is busy', async () => {
    const h = await harness('', 200, 100);
    await writeRows(h.client, 0, 600);
    await new Promise((r) => setTimeout(r, 250));
    // A second worker process: its own connection and service on the same Redis prefix and the same source.
    const relay2 = new Relay(h.config, { role: 'blocking' });
    const registry2 = new Registry();
    const second = new SourceService({ config: h.config, relay: relay2, logger: silentLogger, registry: registry2, schedule: false, retryDelayMs: 50, lockMs: 2000,
      createSource: async (s, r) => (s.type === 'azure-table' ? new TableSource(s, { settleMs: 200 }) : createPullSource(s, r)) });
    await second.start();
    // Both workers take poll jobs from the one queue; hold the first poll in its first page so the two overlap.
    const accept = h.relay.accept.bind(h.relay);
    const accept2 = relay2.accept.bind(relay2);
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    let entered!: () => void;
    const inPoll = new Promise<void>((r) => { entered = r; });
    const gate = async () => { entered(); await held; };
    h.relay.accept = async (lead, o) => { await gate(); return accept(lead, o); };
    relay2.accept = async (lead, o) => { await gate(); return accept2(lead, o); };
    const a = await h.service.pollNow('old-table');
    await inPoll;
    const b = await second.pollNow('old-table');
    const finished = async (job: typeof a) => { for (;;) { const st = await job.getState(); if (st === 'completed' || st === 'failed') return st; await new Promise((r) => setTimeout(r, 20)); } };
    // Without the poll lock the second poll would block behind the same gate: neither would finish.
    const other = await Promise.race([finished(b).then(() => 'b' as const), finished(a).then(() => 'a' as const), new Promise((r) => setTimeout(() => r('neither within 15 s'), 15_000))]);
    expect(other).toBe('b');
    release();
    expect(await finished(a)).toBe('completed');
    const [ra, rb] = await Promise.all([h.service.queue.getJob(a.id!), h.service.queue.getJob(b.id!)]);
    expect(ra!.returnvalue).toEqual({ leads: 600 });
    expect(rb!.returnvalue).toEqual({ leads: 0, skipped: 'another poll of this source is running' });
    expect(await queued(h)).toBe(600);
    const [health] = await h.service.health();
    expect(health).toMatchObject({ polls: 1, failedPolls: 0, leadsFound: 600 });
    const metrics = (await h.registry.metrics()) + (await registry2.metrics());
    expect(metrics).toMatch(/leadrelay_source_polls_total\{source="old-table",outcome="busy"\} 1\b/);
    expect(metrics).toMatch(/leadrelay_source_polls_total\{source="old-table",outcome="ok"\} 1\b/);
    expect(metrics).not.toContain('outcome="duplicate"');
    await second.close();
    await relay2.close();
    await close(h);
  }, 60_000);
});

describe('one record per real lead', () => {
  it('a row of a lead the webhook already brought merges into it: delivered once, its status lists both arrivals', async () => {
    const h = await harness('', 200, 100);
    const fromWebhook = parseJsonLead({
      leadSource: 'AzureMarketplace-INS|contoso.widget', offerTitle: 'Widget', description: 'posted by Microsoft',
      customer: { firstName: 'Ada', lastName: 'L7', email: 'ADA7@contoso.com', company: 'Contoso' },
    });
    if (!fromWebhook.ok) throw new Error(JSON.stringify(fromWebhook.errors));
    const webhook = await h.relay.accept(fromWebhook.lead, { clientId: false, origin: 'webhook' });
    await writeRows(h.client, 0, 10);
    await new Promise((r) => setTimeout(r, 250));
    await pollOnce(h);
    expect(await queued(h)).toBe(10);
    expect(await h.relay.status('lead-000007')).toBeUndefined();
    expect((await h.relay.status(webhook.id))?.seenBy?.map((x) => [x.leadId, x.origin])).toEqual([[webhook.id, 'webhook'], ['lead-000007', 'azure-table:old-table']]);
    const metrics = await h.registry.metrics();
    expect(metrics).toContain('leadrelay_source_leads_total{source="old-table",outcome="accepted"} 9');
    expect(metrics).toContain('leadrelay_source_leads_total{source="old-table",outcome="merged"} 1');
    await close(h);
  }, 60_000);
});

describe('start', () => {
  it('now: rows already in the table are left, rows written after the first poll are taken; an ISO date takes rows from then on', async () => {
    const h = await harness('', 200, 100);
    (h.config.sources[0] as { start: string }).start = 'now';
    await writeRows(h.client, 0, 10);
    await new Promise((r) => setTimeout(r, 250));
    await pollOnce(h);
    expect(await queued(h)).toBe(0);
    await writeRows(h.client, 10, 15);
    await new Promise((r) => setTimeout(r, 250));
    await pollOnce(h);
    expect(await queued(h)).toBe(5);
    await close(h);

    const d = await harness('', 200, 100);
    await writeRows(d.client, 0, 15);
    await new Promise((r) => setTimeout(r, 100));
    (d.config.sources[0] as { start: string }).start = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 100));
    await writeRows(d.client, 100, 103);
    await new Promise((r) => setTimeout(r, 250));
    await pollOnce(d);
    expect(await queued(d)).toBe(3);
    await close(d);
  }, 60_000);
});

describe('reconcile', () => {
  it('lists each lead the table holds that is not accepted or delivered, with its reason; rows newer than the watermark are pending', async () => {
    const h = await harness('', 200, 100);
    await writeRows(h.client, 0, 30);
    await h.client.createEntity({ ...row(30), CustomerInfo: JSON.stringify({ Email: `${'x'.repeat(330)}@contoso.com` }) });
    await new Promise((r) => setTimeout(r, 250));
    await pollOnce(h);
    expect(await queued(h)).toBe(30);
    // One accepted lead is gone from Redis (as if lost), and one row arrives after the last poll.
    await h.relay.redis.del(h.relay.keys.lead('lead-000007'));
    await h.client.createEntity(row(31));
    const gaps: unknown[] = [];
    h.service.on('reconciliation-gap', (r) => gaps.push(r));
    const report = await h.service.reconcileNow(new Date(Date.now() - 3_600_000));
    expect(report.sources[0]).toMatchObject({ source: 'old-table', reported: 32, accepted: 29, pending: 1, destinations: { hook: { delivered: 0, waiting: 29, dead: 0, skipped: 0 } } });
    expect(Object.values(report.sources[0]!.byDay)[0]).toEqual({ 'contoso.widget': 31, unknown: 1 });
    expect(report.missing).toHaveLength(2);
    expect(report.missing).toEqual(expect.arrayContaining([
      { source: 'old-table', key: 'lead-000007', leadId: 'lead-000007', reason: expect.stringMatching(/not accepted although older than the watermark/) },
      { source: 'old-table', key: 'lead-000030', reason: expect.stringMatching(/^not a lead: customer.email/) },
    ]));
    expect(report.gap).toBe(true);
    expect(gaps).toHaveLength(1);
    await close(h);
  }, 60_000);
});
