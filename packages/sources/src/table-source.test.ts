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

function configFor(table: string, extra = ''): LeadRelayConfig {
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
  - { id: hook, type: https, url: "https://hooks.example.com/leads" }
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

async function harness(extra = '', settleMs = 300, pageSize?: number): Promise<Harness> {
  const table = `T${uniquePrefix('x')}`;
  const config = configFor(table, `${pageSize ? `    pageSize: ${pageSize}\n` : ''}${extra}`);
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
