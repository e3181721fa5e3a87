import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Relay } from '@leadrelay/queue';
import { AzureAdServer } from '../../test/fakes/azure-ad/index.js';
import { DataverseServer } from '../../test/fakes/dataverse/index.js';
import { readTlsCert } from '../../test/helpers/tls-cert.js';
import { benchConfig, deleteKeys, freePort, marketplaceLead, uniquePrefix } from '../lib/bench-env.js';
import { BenchReport, fmt } from '../lib/bench-report.js';
import { drainWithWorker } from '../lib/worker-drain.js';

/**
 * Benchmark 4 — Dynamics 365. A fake Azure AD (HTTPS, self-signed cert trusted through NODE_EXTRA_CA_CERTS)
 * and a fake Dataverse answering every 10th Web API request with 429 + Retry-After (service protection),
 * N leads through `leadrelay worker` (own process, default concurrency). Prints the time and the 429s served.
 * Integrity: every lead delivered, none dead, exactly one Dataverse record per lead with the documented id
 * (UUID v5 of the lead id), i.e. no extra records from retried upserts.
 */
const LEADS = Number(process.env.BENCH_DYNAMICS_LEADS ?? 500);
const THROTTLE_EVERY = 10;
const RETRY_AFTER_S = Number(process.env.BENCH_DYNAMICS_RETRY_AFTER_S ?? 1);
/** leadid = UUID v5 of the lead id in this namespace (as in packages/destinations/src/dynamics/lead-record-id.ts). */
const LEAD_ID_NAMESPACE = '1636639b-6fec-4204-9b36-f35db1bee11e';
const TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
const CLIENT_ID = 'c0ffee00-1111-4222-8333-444455556666';
const SECRET = 'bench-dynamics-client-secret-value';

/** RFC 4122 UUID v5 (SHA-1 of namespace + name), written out here so the check does not reuse the code under test. */
function uuidV5(name: string, namespace: string): string {
  const hash = createHash('sha1').update(Buffer.from(namespace.replace(/-/g, ''), 'hex')).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

let ad: AzureAdServer;
let dv: DataverseServer;

beforeAll(async () => {
  ad = await AzureAdServer.start({ tls: readTlsCert(inject('tlsCert')) });
  ad.addTenant(TENANT);
  ad.addApp(TENANT, { clientId: CLIENT_ID, secret: SECRET });
  dv = await DataverseServer.start({ tokens: ad });
});

afterAll(async () => {
  await dv?.close();
  await ad?.close();
});

/** Faults are a queue: 9 no-op faults (a 0 ms "slow") then a 429, repeated, make every 10th request a 429. */
function throttleEveryTenth(requests: number): void {
  for (let i = 0; i < Math.ceil(requests / THROTTLE_EVERY); i++) {
    dv.injectFault({ kind: 'slow', delayMs: 0 }, THROTTLE_EVERY - 1);
    dv.injectFault({ kind: 'throttle', retryAfterSeconds: RETRY_AFTER_S }, 1);
  }
}

describe('dynamics', () => {
  it(`${LEADS} leads, 429 Retry-After ${RETRY_AFTER_S}s on every ${THROTTLE_EVERY}th request`, async () => {
    const redisUrl = inject('redisUrl');
    const report = new BenchReport('4-dynamics', `Dynamics 365: ${LEADS} leads, every ${THROTTLE_EVERY}th Dataverse request answered 429 Retry-After ${RETRY_AFTER_S} s`);
    // Enough pattern for every request plus the retries of the throttled ones (and spare).
    throttleEveryTenth(2 * LEADS + 100);
    const metricsPort = await freePort();
    const cfg = benchConfig({
      redisUrl, prefix: uniquePrefix('bd'), metricsPort,
      destinations: `  - id: crm
    type: dynamics
    instanceUrl: "${dv.url}"
    auth: { mode: client-secret, tenantId: "${TENANT}", clientId: "${CLIENT_ID}", clientSecret: "${SECRET}", authorityHost: "${ad.authorityHost}" }`,
    });
    const relay = new Relay(cfg.config);
    try {
      report.figure('settings', `concurrency ${cfg.config.destinations[0]!.concurrency} (default), no rateLimit`);
      const leads = Array.from({ length: LEADS }, () => marketplaceLead());
      const r = await drainWithWorker({
        relay, destination: 'crm', leads, workers: [{ cfg, metricsPort }], timeoutMs: 200_000,
        onProgress: (st, ms) => { if (Math.round(ms / 1000) % 5 === 0) console.log(`    ${fmt(ms / 1000, 1)} s: ${st.delivered} delivered, ${st.dead} dead${st.state === 'throttled' ? ', throttled' : ''}`); },
      });
      dv.clearFaults();
      const writes = dv.leadWrites;
      const served429 = writes.filter((w) => w.outcome === 429).length;
      const expectedIds = new Set(leads.map((l) => uuidV5(l.id, LEAD_ID_NAMESPACE)));
      const unexpected = [...dv.leads.keys()].filter((id) => !expectedIds.has(id));
      const missing = [...expectedIds].filter((id) => !dv.leads.has(id));
      report.figure('elapsed (resume -> all delivered)', r.drainMs / 1000, 's', { headline: true });
      report.figure('Dataverse lead writes (PATCH upserts)', writes.length);
      report.figure('429s served', served429, '', { headline: true });
      // Each 429 holds the whole destination for Retry-After; only 429s answered together share a pause.
      report.figure('time the 429s impose if none overlap (429s x Retry-After)', served429 * RETRY_AFTER_S, 's', { headline: true });
      report.figure('token requests to Azure AD', ad.tokenRequests.length);
      report.figure('leads/s', LEADS / (r.drainMs / 1000), 'leads/s');
      report.figure('worker CPU per lead', r.cpuMsPerLead, 'ms');
      report.figure('worker peak RSS', r.peakRssMiB, 'MiB');
      report.integrity('every lead delivered', !r.timedOut && r.stats.delivered === LEADS, `${r.stats.delivered}/${LEADS} delivered${r.timedOut ? ' (timed out)' : ''}`);
      report.integrity('none dead (429s only delay)', r.stats.dead === 0, `${r.stats.dead} dead after ${served429} 429s`);
      report.integrity('one record per lead, no extras', dv.leads.size === LEADS && unexpected.length === 0 && missing.length === 0,
        `${dv.leads.size} records for ${LEADS} leads; ${unexpected.length} unexpected ids, ${missing.length} missing`);
      report.integrity('429s were served', served429 > 0, `${served429} 429s`);
      report.assertIntegrity();
      expect(dv.leads.size).toBe(LEADS);
    } finally {
      await relay.close();
      cfg.remove();
      await deleteKeys(redisUrl, `{${cfg.prefix}}*`);
    }
  });
});
