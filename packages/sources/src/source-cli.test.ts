import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { loadConfig } from '@leadrelay/config';
import { silentLogger } from '@leadrelay/observability';
import { Relay } from '@leadrelay/queue';
import { Registry } from 'prom-client';
import { Azurite } from '../../../test/helpers/azurite.js';
import { runCli } from '../../../test/helpers/run-cli.js';
import { uniquePrefix } from '../../../test/helpers/unique.js';
import { SourceService } from './source-service.js';
import { createPullSource } from './create-pull-source.js';

let azurite: Azurite;
beforeAll(async () => { azurite = await Azurite.start(); });
afterAll(async () => { await azurite.stop(); });

it('leadrelay sources, stats, reconcile and resume <source-id> as an operator runs them', async () => {
  const table = `T${uniquePrefix('c')}`;
  const client = TableClient.fromConnectionString(azurite.connectionString, table, { allowInsecureConnection: true });
  await client.createTable();
  await client.createEntity({ partitionKey: 'p', rowKey: 'r1', LeadSource: 'SPZA-PLT|contoso.app', ActionCode: 'PLT', CustomerInfo: '{"Email":"a@contoso.com"}' });
  const dir = mkdtempSync(join(tmpdir(), 'lr-cli-src-'));
  const file = join(dir, 'leadrelay.yaml');
  const bad = azurite.connectionString.replace(/AccountKey=[^;]+/, `AccountKey=${Buffer.alloc(64, 2).toString('base64')}`);
  const write = (connection: string) => writeFileSync(file, `
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('cli')} }
intake: { apiKeys: ["test-key-0123456789abcdef"] }
sources:
  - { id: old-table, type: azure-table, connectionString: "${connection}", table: ${table}, start: all }
destinations:
  - { id: hook, type: https, url: "https://hooks.example.com/leads" }
`);
  write(bad);
  const config = loadConfig(file, { env: {} });
  const relay = new Relay(config, { role: 'blocking' });
  const service = new SourceService({ config, relay, logger: silentLogger, registry: new Registry(), schedule: false, createSource: createPullSource });
  await service.start();
  const paused = new Promise((r) => service.once('source-paused', r));
  await service.pollNow('old-table');
  await paused;

  const sources = await runCli('sources', '--config', file);
  expect(sources.code).toBe(0);
  expect(sources.out).toMatch(/old-table\s+azure-table\s+paused/);
  expect(sources.out).toMatch(/what to do: Check the source's connectionString/);
  expect(sources.out).not.toContain(Buffer.alloc(64, 2).toString('base64'));
  const stats = await runCli('stats', '--config', file);
  expect(stats.out).toMatch(/sources:\n[\s\S]*old-table/);
  const reconcileWhilePaused = await runCli('reconcile', '--config', file, '--json');
  // Reconcile reads the table itself: the refused key is reported, not taken as "nothing missing".
  expect(reconcileWhilePaused).toMatchObject({ code: 1, err: expect.stringMatching(/refused our credentials/) });

  const resumed = await runCli('resume', 'old-table', '--config', file);
  expect(resumed).toMatchObject({ code: 0, out: expect.stringMatching(/source old-table resumed/) });
  const json = JSON.parse((await runCli('sources', '--config', file, '--json')).out) as { state: string }[];
  expect(json[0]!.state).toBe('running');
  const badSince = await runCli('reconcile', '--since', 'a week', '--config', file);
  expect(badSince.code).toBe(2);
  await service.close();
  await relay.close();
}, 60_000);
