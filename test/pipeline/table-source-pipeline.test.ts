import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableClient, type TableTransaction } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@leadrelay/config';
import { Relay } from '@leadrelay/queue';
import { readSourceHealth } from '@leadrelay/sources';
import { Azurite, RedisServer, freePort, uniquePrefix } from '../helpers/index.js';
import { LeadRelayProcess } from '../helpers/leadrelay-process.js';

let azurite: Azurite;
let redis: RedisServer;
beforeAll(async () => {
  [azurite, redis] = await Promise.all([Azurite.start(), RedisServer.start({ appendonly: true })]);
});
afterAll(async () => {
  await Promise.all([azurite?.stop(), redis?.stop()]);
});

async function writeRows(client: TableClient, from: number, to: number): Promise<void> {
  const byPartition = new Map<string, TableTransaction['actions']>();
  for (let n = from; n < to; n++) {
    const p = `p${n % 8}`;
    const entity = {
      partitionKey: p, rowKey: `row-${n}`, LeadSource: 'AzureMarketplace-INS|contoso.widget', ActionCode: 'INS', OfferDisplayName: 'Widget',
      CustomerInfo: JSON.stringify({ FirstName: 'Ada', LastName: `L${n}`, Email: `ada${n}@contoso.com` }), Description: '', CreatedTime: new Date().toISOString(),
    };
    byPartition.set(p, [...(byPartition.get(p) ?? []), ['create', entity]]);
  }
  await Promise.all([...byPartition.values()].map(async (actions) => {
    for (let i = 0; i < actions.length; i += 100) await client.submitTransaction(actions.slice(i, i + 100));
  }));
}

async function countRows(client: TableClient): Promise<number> {
  let n = 0;
  for await (const _ of client.listEntities({ queryOptions: { select: ['RowKey'] } })) n++;
  return n;
}

async function setup(rows: number) {
  const source = `S${uniquePrefix('s')}`;
  const target = `D${uniquePrefix('d')}`;
  const sourceTable = TableClient.fromConnectionString(azurite.connectionString, source, { allowInsecureConnection: true });
  const targetTable = TableClient.fromConnectionString(azurite.connectionString, target, { allowInsecureConnection: true });
  await sourceTable.createTable();
  await writeRows(sourceTable, 0, rows);
  const metricsPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lr-src-'));
  const file = join(dir, 'leadrelay.yaml');
  writeFileSync(file, `
redis: { url: "${redis.url}", prefix: ${uniquePrefix('tsp')} }
intake: { apiKeys: ["test-key-0123456789abcdef"] }
worker: { metricsPort: ${metricsPort}, lockDuration: 2s, shutdownTimeout: 2s }
retry: { attempts: 20, initialDelay: 100ms, maxDelay: 1s }
sources:
  - id: old-table
    type: azure-table
    connectionString: "${azurite.connectionString}"
    table: ${source}
    start: all
    pollEvery: 1s
    pageSize: 250
destinations:
  - id: new-table
    type: azure-table
    connectionString: "${azurite.connectionString}"
    table: ${target}
`);
  return { file, metricsPort, sourceTable, targetTable, config: loadConfig(file, { env: {} }) };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('table source through worker processes', () => {
  it('a worker killed (SIGKILL) in the middle of a page loses and duplicates nothing: another worker finishes the backfill', async () => {
    const rows = 2000;
    const s = await setup(rows);
    const relay = new Relay(s.config);
    const jobs = async () => Object.values(await relay.queue('new-table').getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed')).reduce((a, b) => a + b, 0);
    const first = LeadRelayProcess.start(['worker', '--config', s.file]);
    // Killed once some leads of the backfill are queued and before all are.
    await until('part of the backfill', async () => { const n = await jobs(); return n > 50 && n < rows; });
    await first.kill('SIGKILL');
    const partial = await jobs();
    const second = LeadRelayProcess.start(['worker', '--config', s.file]);
    await until(`${rows} rows in the destination table`, async () => (await countRows(s.targetTable)) >= rows);
    expect(await countRows(s.targetTable)).toBe(rows);
    // One delivery job per lead: none was queued twice.
    expect(await jobs()).toBe(rows);
    const [health] = await readSourceHealth(relay);
    expect(health).toMatchObject({ source: 'old-table', state: 'running' });
    expect(health!.leadsFound).toBeGreaterThanOrEqual(rows);
    console.log(`killed after ${partial} of ${rows} leads were queued; the second worker finished`);
    await second.kill('SIGTERM');
    await relay.close();
  }, 150_000);

  it('Redis restarting between pages: the poll is retried and every row arrives once', async () => {
    const rows = 1500;
    const s = await setup(rows);
    const relay = new Relay(s.config);
    const worker = LeadRelayProcess.start(['worker', '--config', s.file]);
    await until('the first page committed', async () => ((await readSourceHealth(relay))[0]?.leadsFound ?? 0) >= 250);
    await redis.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await redis.start();
    await until(`${rows} rows in the destination table`, async () => (await countRows(s.targetTable)) >= rows);
    expect(await countRows(s.targetTable)).toBe(rows);
    const jobs = Object.values(await relay.queue('new-table').getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed')).reduce((a, b) => a + b, 0);
    expect(jobs).toBe(rows);
    await worker.kill('SIGTERM');
    await relay.close();
  }, 150_000);
});
