import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig, type ResolvedReferralsSource } from '@leadrelay/config';
import { Relay } from '@leadrelay/queue';
import { partnerCenterAuth, readSourceHealth } from '@leadrelay/sources';
import { AzureAdServer } from '../fakes/azure-ad/index.js';
import { PartnerCenterServer } from '../fakes/partner-center/partner-center-server.js';
import { Azurite, RedisServer, freePort, uniquePrefix } from '../helpers/index.js';
import { LeadRelayProcess } from '../helpers/leadrelay-process.js';
import { queuedCount } from '../helpers/source-polls.js';

const TENANT = 'contoso.onmicrosoft.com';
const CLIENT_ID = '1c1d2e3f-4a5b-4c6d-8e7f-901234567890';
const ADMIN = 'referrals-admin@contoso.onmicrosoft.com';

let azurite: Azurite;
let ad: AzureAdServer;
let pc: PartnerCenterServer;
/** A Redis of this file's own, for the restart test (appendonly: what was acknowledged survives it). */
let redis: RedisServer;
beforeAll(async () => {
  const { certPath, keyPath } = inject('tlsCert');
  const tls = { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  [azurite, ad, redis] = await Promise.all([Azurite.start(), AzureAdServer.start({ tls }), RedisServer.start({ appendonly: true })]);
  ad.addTenant(TENANT);
  ad.addApp(TENANT, { clientId: CLIENT_ID });
  ad.addUser(TENANT, { username: ADMIN, password: 'unused' });
  pc = await PartnerCenterServer.start({ tls, azureAd: ad });
  pc.grantRole(ADMIN, 'ReferralsAdmin');
});
afterAll(async () => {
  await Promise.all([pc?.close(), ad?.close(), azurite?.stop(), redis?.destroy()]);
});

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 90_000, progress?: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${progress ? ` (${await progress().catch((e) => String(e))})` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function countRows(client: TableClient): Promise<number> {
  let n = 0;
  for await (const _ of client.listEntities({ queryOptions: { select: ['RowKey'] } })) n++;
  return n;
}

/**
 * `referrals` referrals in the fake Partner Center (`perInstant` sharing each createdDateTime), a config file whose
 * referrals source writes back to an Azure Table destination, and `leadrelay login` done with the test at the browser.
 */
async function referralsSetup(o: { idPrefix: string; referrals: number; perInstant: number; redisUrl: string; keyPrefix: string }): Promise<{ file: string; relay: Relay; targetTable: TableClient }> {
  const base = Date.now() - 86_400_000;
  for (let i = 0; i < o.referrals; i++) {
    const t = new Date(base + Math.floor(i / o.perInstant) * 1000).toISOString();
    pc.put({ id: `${o.idPrefix}-${String(i).padStart(5, '0')}`, createdDateTime: t, updatedDateTime: t, details: { requirements: { solutions: [{ id: 'widget', name: 'Widget', publisherName: 'contoso' }] } } });
  }
  const target = `D${uniquePrefix('d')}`.replace(/[^A-Za-z0-9]/g, '');
  const targetTable = TableClient.fromConnectionString(azurite.connectionString, target, { allowInsecureConnection: true });
  const file = join(mkdtempSync(join(tmpdir(), 'lr-ref-')), 'leadrelay.yaml');
  writeFileSync(file, `
redis: { url: "${o.redisUrl}", prefix: ${uniquePrefix(o.keyPrefix)} }
intake: { apiKeys: ["test-key-0123456789abcdef"] }
worker: { metricsPort: ${await freePort()}, lockDuration: 2s, shutdownTimeout: 2s }
retry: { attempts: 20, initialDelay: 100ms, maxDelay: 1s }
secrets: { key: "${Buffer.alloc(32, 9).toString('base64')}" }
sources:
  - id: partner-center
    type: referrals
    tenantId: ${TENANT}
    clientId: ${CLIENT_ID}
    apiUrl: ${pc.url}
    authorityHost: ${ad.authorityHost}
    start: all
    pollEvery: 1s
    pageSize: 100
    writeBack: { destination: crm-table }
destinations:
  - { id: crm-table, type: azure-table, connectionString: "${azurite.connectionString}", table: ${target} }
`);
  const config = loadConfig(file, { env: {} });
  const relay = new Relay(config);
  // `leadrelay login`, with the test as the person at the browser.
  const auth = await partnerCenterAuth(config.sources[0] as ResolvedReferralsSource, relay);
  await auth.login((p) => setTimeout(() => ad.approveDeviceCode(p.userCode, ADMIN), 1200));
  return { file, relay, targetTable };
}

describe('referrals source through worker processes, from config alone', () => {
  it('a worker killed (SIGKILL) in the middle of a page loses and duplicates nothing; every referral is written back', async () => {
    const referrals = 1500;
    // Three referrals share each instant.
    const { file, relay, targetTable } = await referralsSetup({ idPrefix: 'pl', referrals, perInstant: 3, redisUrl: inject('redisUrl'), keyPrefix: 'rsp' });

    const first = LeadRelayProcess.start(['worker', '--config', file]);
    await until('part of the backfill', async () => { const n = await queuedCount(relay, 'crm-table'); return n > 50 && n < referrals; });
    await first.kill('SIGKILL');
    const partial = await queuedCount(relay, 'crm-table');
    const second = LeadRelayProcess.start(['worker', '--config', file]);
    await until(`${referrals} rows in the CRM table`, async () => (await countRows(targetTable)) >= referrals, 90_000, async () =>
      `rows ${await countRows(targetTable)}, jobs ${JSON.stringify(await relay.queue('crm-table').getJobCounts())}, source ${JSON.stringify(await readSourceHealth(relay))}`);
    expect(await countRows(targetTable)).toBe(referrals);
    expect(await queuedCount(relay, 'crm-table')).toBe(referrals);
    await until('every referral written back', async () => pc.all.filter((r) => r.id.startsWith('pl-')).every((r) => r.externalReferenceId !== ''));
    const sample = pc.get('pl-00042')!;
    expect(sample.externalReferenceId).toBe((await relay.leads.getRecord('pl-00042', 'crm-table'))!.remoteId);
    const [health] = await readSourceHealth(relay);
    expect(health).toMatchObject({ source: 'partner-center', state: 'running' });
    console.log(`referrals: killed after ${partial} of ${referrals} leads were queued; the second worker finished and wrote every referral back`);
    await second.kill('SIGTERM');
    await relay.close();
  }, 150_000);
  it('Redis restarting between pages: the poll carries on (or is retried) from the last committed page, every referral arrives and is written back once', async () => {
    pc.clearReferrals();
    const referrals = 1000;
    const { file, relay, targetTable } = await referralsSetup({ idPrefix: 'rr', referrals, perInstant: 2, redisUrl: redis.url, keyPrefix: 'rsr' });

    // The third list request comes once page 2 is committed: Redis goes down right there, between pages.
    let lists = 0;
    let restarted: Promise<void> | undefined;
    let committedBefore = -1;
    pc.onListPage = () => {
      if (++lists !== 3 || restarted) return;
      restarted = (async () => {
        committedBefore = (await readSourceHealth(relay))[0]?.leadsFound ?? -1;
        await redis.stop('SIGTERM');
        await new Promise((r) => setTimeout(r, 1000));
        await redis.start();
      })();
    };
    const worker = LeadRelayProcess.start(['worker', '--config', file]);
    try {
      await until('Redis restarted', async () => restarted !== undefined, 60_000);
      await restarted;
      pc.onListPage = undefined;
      await until(`${referrals} rows in the CRM table`, async () => (await countRows(targetTable)) >= referrals, 90_000, async () =>
        `rows ${await countRows(targetTable)}, jobs ${JSON.stringify(await relay.queue('crm-table').getJobCounts())}, source ${JSON.stringify(await readSourceHealth(relay))}`);
      expect(committedBefore).toBeGreaterThanOrEqual(100); // pages 1 and 2 were committed before Redis went down
      expect(committedBefore).toBeLessThan(referrals);
      expect(await countRows(targetTable)).toBe(referrals);
      // One delivery job per referral: none queued twice, none lost with the restart.
      expect(await queuedCount(relay, 'crm-table')).toBe(referrals);
      await until('every referral written back', async () => pc.all.every((r) => r.externalReferenceId !== ''), 90_000);
      const sample = pc.get('rr-00421')!;
      expect(sample.externalReferenceId).toBe((await relay.leads.getRecord('rr-00421', 'crm-table'))!.remoteId);
      const [health] = await readSourceHealth(relay);
      expect(health).toMatchObject({ source: 'partner-center', state: 'running' });
      console.log(`referrals: Redis restarted after page 2 (${committedBefore} leads committed); failed polls recorded: ${health!.failedPolls} (a poll waiting on the reconnect does not fail; one that failed while Redis was down may not record it); all ${referrals} delivered once and written back`);
    } finally {
      pc.onListPage = undefined;
      await worker.kill('SIGTERM');
      await relay.close();
    }
  }, 180_000);
});
