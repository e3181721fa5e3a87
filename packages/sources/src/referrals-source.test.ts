import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig, type LeadRelayConfig } from '@leadrelay/config';
import { silentLogger } from '@leadrelay/observability';
import { Relay } from '@leadrelay/queue';
import { Registry } from 'prom-client';
import { DeliveryService } from '@leadrelay/delivery';
import { LeadRelayMetrics } from '@leadrelay/observability';
import { AzureAdServer } from '../../../test/fakes/azure-ad/index.js';
import { PartnerCenterServer } from '../../../test/fakes/partner-center/partner-center-server.js';
import { runCli } from '../../../test/helpers/run-cli.js';
import { closeSources, queuedCount, runPoll } from '../../../test/helpers/source-polls.js';
import { uniquePrefix } from '../../../test/helpers/unique.js';
import { partnerCenterAuth } from './create-pull-source.js';
import { ReferralsSource } from './referrals-source.js';
import { SourceService } from './source-service.js';

const TENANT = 'contoso.onmicrosoft.com';
const CLIENT_ID = '0c1d2e3f-4a5b-4c6d-8e7f-901234567890';
const ADMIN = 'referrals-admin@contoso.onmicrosoft.com';
const SECRET_KEY = Buffer.alloc(32, 7).toString('base64');

let ad: AzureAdServer;
let pc: PartnerCenterServer;
beforeAll(async () => {
  const { certPath, keyPath } = inject('tlsCert');
  const tls = { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  ad = await AzureAdServer.start({ tls });
  ad.addTenant(TENANT);
  ad.addApp(TENANT, { clientId: CLIENT_ID });
  ad.addUser(TENANT, { username: ADMIN, password: 'unused', mfaRequired: true });
  ad.addUser(TENANT, { username: 'no-role@contoso.onmicrosoft.com', password: 'unused' });
  pc = await PartnerCenterServer.start({ tls, azureAd: ad });
  pc.grantRole(ADMIN, 'ReferralsAdmin');
});
afterAll(async () => { await pc?.close(); await ad?.close(); });

function configFor(extra = ''): LeadRelayConfig {
  return parseConfig(configText(extra), 'test.yaml', { env: {} });
}

function configText(extra = ''): string {
  return `
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('ref')} }
intake: { apiKeys: ["test-key-0123456789abcdef"] }
secrets: { key: "${SECRET_KEY}" }
sources:
  - id: partner-center
    type: referrals
    tenantId: ${TENANT}
    clientId: ${CLIENT_ID}
    apiUrl: ${pc.url}
    authorityHost: ${ad.authorityHost}
    start: all
    timeout: 1s
${extra}
destinations:
  - { id: hook, type: https, url: "https://hooks.example.com/leads" }
  - { id: crm-table, type: azure-table, connectionString: "${inject('azuriteConnectionString')}", table: T${uniquePrefix('wb').replace(/[^A-Za-z0-9]/g, '')}, match: { offers: ["contoso.*"] } }
`;
}

interface Harness { config: LeadRelayConfig; relay: Relay; service: SourceService; registry: Registry; source: () => Promise<ReferralsSource> }

async function harness(extra = '', settleMs = 0, maxInlineWaitMs = 5000): Promise<Harness> {
  pc.clearReferrals();
  const config = configFor(extra);
  const relay = new Relay(config, { role: 'blocking' });
  const registry = new Registry();
  let reader: Promise<ReferralsSource> | undefined;
  const source = () => (reader ??= partnerCenterAuth(config.sources[0] as never, relay).then((auth) => new ReferralsSource(config.sources[0] as never, auth, { settleMs, maxInlineWaitMs })));
  const service = new SourceService({ config, relay, logger: silentLogger, registry, schedule: false, retryDelayMs: 50, lockMs: 5000, createSource: source });
  await service.start();
  return { config, relay, service, registry, source };
}

/** Plays the Referrals Admin at the browser: approves the device code the CLI printed. */
async function login(h: Harness, username = ADMIN): Promise<string[]> {
  const prompts: string[] = [];
  const auth = (await h.source()).auth;
  await auth.login((p) => { prompts.push(p.message); setTimeout(() => ad.approveDeviceCode(p.userCode, username), 1500); });
  return prompts;
}

const pollOnce = (h: Harness) => runPoll(h.service, 'partner-center');
const queued = (h: Harness) => queuedCount(h.relay, 'hook');
const close = closeSources;

const at = (base: number, s: number) => new Date(base + s * 1000).toISOString();
let seq = 0;
/** `n` referrals with ids unique to this test, updated one second apart from `base`. */
function addReferrals(n: number, base = Date.parse('2025-06-01T00:00:00Z'), partial: Record<string, unknown> = {}): string[] {
  const run = `r${(seq++).toString(36)}${Date.now().toString(36)}`;
  return Array.from({ length: n }, (_, i) => pc.put({ id: `${run}-${String(i).padStart(5, '0')}`, updatedDateTime: at(base, i), createdDateTime: at(base, i), ...partial }).id);
}

describe('Partner Center sign-in (device code, real MSAL against the fake Entra ID)', () => {
  it('leadrelay login: device code approved in the browser; the cache is encrypted in Redis and renews silently', async () => {
    const h = await harness();
    const prompts = await login(h);
    expect(prompts[0]).toMatch(/enter the code [0-9A-F]{9}/);
    const auth = (await h.source()).auth;
    const stored = (await h.relay.redis.get(auth.cache.redisKey))!;
    expect(stored).toMatch(/^v1\./);
    expect(stored).not.toContain('0.rt.');
    expect(auth.cache.decrypt(stored)).toContain('0.rt.');
    const device = ad.tokenRequests.filter((r) => r.form.grant_type === 'device_code');
    expect(device.length).toBeGreaterThanOrEqual(2);
    expect(device[0]!.form.scope).toContain('https://api.partner.microsoft.com/.default');
    expect(device[0]!.form.scope).toContain('offline_access');
    expect(ad.tokenRequests.some((r) => r.form.grant_type === 'password')).toBe(false);
    // A forced renewal uses the refresh token, as every later run does once the access token expires.
    const before = ad.tokenRequests.length;
    await auth.accessToken(true);
    expect(ad.tokenRequests.slice(before).map((r) => r.form.grant_type)).toEqual(['refresh_token']);
    await close(h);
  }, 60_000);

  it('leadrelay login <source-id> as an operator runs it: prints the device code, waits for the browser, resumes the paused source', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lr-login-'));
    const file = join(dir, 'leadrelay.yaml');
    writeFileSync(file, configText());
    const h = await harness();
    await h.service.close();
    const config = parseConfig(readFileSync(file, 'utf8'), file, { env: {} });
    const relay = new Relay(config, { role: 'blocking' });
    const service = new SourceService({ config, relay, logger: silentLogger, registry: new Registry(), schedule: false, createSource: (s, r) => partnerCenterAuth(s as never, r).then((a) => new ReferralsSource(s as never, a, { settleMs: 0 })) });
    await service.start();
    const paused = new Promise((r) => service.once('source-paused', r));
    await service.pollNow('partner-center');
    await paused;
    const pending = ad.pendingDeviceCodes.length;
    const approving = (async () => {
      while (ad.pendingDeviceCodes.length <= pending) await new Promise((r) => setTimeout(r, 50));
      ad.approveDeviceCode(ad.pendingDeviceCodes.at(-1)!.userCode, ADMIN);
    })();
    const login = await runCli('login', 'partner-center', '--config', file);
    await approving;
    expect(login).toMatchObject({ code: 0, out: expect.stringMatching(/devicelogin and enter the code [0-9A-F]{9}[\s\S]*signed in to Partner Center as referrals-admin@/) });
    expect((await service.health())[0]!.state).toBe('running');
    pc.put({ id: `cli-${Date.now()}`, updatedDateTime: new Date(Date.now() - 60_000).toISOString() });
    const job = await service.pollNow('partner-center');
    while ((await job.getState()) !== 'completed') await new Promise((r) => setTimeout(r, 20));
    expect(await relay.queue('hook').count()).toBe(1);
    expect(await runCli('login', 'nope', '--config', file)).toMatchObject({ code: 2, err: expect.stringMatching(/unknown source 'nope'/) });
    await service.close();
    await relay.close();
    await h.relay.close();
  }, 60_000);

  it('an expired (AADSTS700082) or revoked (AADSTS50173) refresh token pauses the source: run leadrelay login again', async () => {
    for (const how of ['expired', 'revoked'] as const) {
      const h = await harness();
      ad.addUser(TENANT, { username: `${how}@contoso.onmicrosoft.com`, password: 'unused' });
      pc.grantRole(`${how}@contoso.onmicrosoft.com`, 'ReferralsAdmin');
      await login(h, `${how}@contoso.onmicrosoft.com`);
      expect(await pollOnce(h)).toBe('completed');
      ad.invalidateRefreshTokens(`${how}@contoso.onmicrosoft.com`, how);
      ad.revokeAllTokens();
      const paused = new Promise<{ reason: string; remediation: string }>((r) => h.service.once('source-paused', r));
      await pollOnce(h);
      const p = await paused;
      expect(p.reason).toContain(how === 'expired' ? 'AADSTS700082' : 'AADSTS50173');
      expect(p.remediation).toContain('leadrelay login partner-center');
      expect((await h.service.health())[0]).toMatchObject({ state: 'paused' });
      await close(h);
    }
  }, 60_000);

  it('before any sign-in, and for a user without a Referrals role (403), the source pauses with what to do', async () => {
    const h = await harness();
    expect(await pollOnce(h)).toMatch(/nobody has signed in/);
    expect((await h.service.health())[0]!.pause!.remediation).toMatch(/leadrelay login partner-center/);
    await h.service.resume('partner-center');
    await login(h, 'no-role@contoso.onmicrosoft.com');
    expect(await pollOnce(h)).toMatch(/403/);
    expect((await h.service.health())[0]!.pause!.remediation).toMatch(/Referrals Admin role/);
    await close(h);
  }, 60_000);
});

describe('referrals source', () => {
  it('maps a marketplace lead to the canonical lead; filter keeps only Independent/Direct referrals', async () => {
    const h = await harness(`    filter: { types: [Independent], qualifications: [Direct] }`);
    await login(h);
    const base = Date.now() - 3_600_000;
    const [lead] = addReferrals(1, base, {
      referralSource: 'AppSource', callToAction: 'ContactMe',
      customerProfile: { name: 'Fabrikam', address: { country: 'DE' }, team: [{ firstName: 'Jo', lastName: 'Ng', email: 'jo@fabrikam.example', phoneNumber: '+49 1', title: 'CIO' }] },
      details: { notes: 'Wants a demo', requirements: { solutions: [{ id: 'fabrikam-crm', name: 'Fabrikam CRM', publisherName: 'contoso' }] } },
    });
    addReferrals(1, base + 10, { qualification: 'SalesQualified' });
    addReferrals(1, base + 20, { type: 'Shared', qualification: 'SalesQualified', inviteContext: { invitedBy: { organizationId: 'partner-1' } } });
    addReferrals(1, base + 30, { direction: 'Outgoing' });
    expect(await pollOnce(h)).toBe('completed');
    const found = await h.relay.leads.getLead(lead!);
    expect(found).toMatchObject({
      id: lead, source: 'AppSource', action: 'ContactMe', offer: 'contoso.fabrikam-crm', offerTitle: 'Fabrikam CRM', description: 'Wants a demo',
      customer: { firstName: 'Jo', lastName: 'Ng', email: 'jo@fabrikam.example', phone: '+49 1', title: 'CIO', company: 'Fabrikam', country: 'DE' },
      extra: { referralId: lead, engagementId: expect.any(String), referralType: 'Independent', referralQualification: 'Direct' },
    });
    expect(await queued(h)).toBe(1);
    const list = pc.listRequests.at(-1)!;
    expect(list.query.$orderby).toBe('updatedDateTime asc');
    expect(list.query.$filter).toMatch(/^direction eq 'Incoming' and updatedDateTime lt /);
    await close(h);
  }, 60_000);

  it('pages by re-querying from the watermark: a timestamp shared across a page boundary, rows added between pages — each lead once', async () => {
    const h = await harness('    pageSize: 100');
    await login(h);
    const base = Date.now() - 7_200_000;
    const ids = addReferrals(250, base);
    // Referrals 99 and 100 (the last of page 1, the first of page 2) share one instant.
    pc.put({ ...pc.get(ids[100]!)!, updatedDateTime: pc.get(ids[99]!)!.updatedDateTime });
    let added: string[] = [];
    let served = 0;
    pc.onListPage = () => { if (++served === 2) added = addReferrals(5, base + 600_000); };
    const lists = pc.listRequests.length;
    expect(await pollOnce(h)).toBe('completed');
    pc.onListPage = undefined;
    expect(await queued(h)).toBe(255);
    for (const id of [...ids, ...added]) expect(await h.relay.leads.getLead(id)).toBeDefined();
    const calls = pc.listRequests.slice(lists);
    expect(calls.length).toBe(3);
    // Page 2 asks from page 1's newest instant (the one it shares with page 2's first referral).
    expect(calls[1]!.query.$skiptoken).toBeUndefined();
    expect(calls[1]!.query.$filter).toContain(`updatedDateTime ge ${pc.get(ids[99]!)!.updatedDateTime}`);
    expect(new Set(calls.map((c) => c.headers['ms-correlationid'])).size).toBe(3);
    expect(await h.registry.metrics()).not.toContain('outcome="duplicate"');
    // The next poll starts at the watermark: nothing new, nothing repeated.
    expect(await pollOnce(h)).toBe('completed');
    expect(await queued(h)).toBe(255);
    await close(h);
  }, 60_000);

  it('a poll that dies in the middle of a page resumes from the last committed page: no lead lost, none twice', async () => {
    const h = await harness('    pageSize: 50');
    await login(h);
    addReferrals(180, Date.now() - 7_200_000);
    const accept = h.relay.accept.bind(h.relay);
    let calls = 0;
    h.relay.accept = async (lead, o) => {
      if (++calls === 120) throw new Error('connection lost');
      return accept(lead, o);
    };
    expect(await pollOnce(h)).toBe('completed');
    expect(await queued(h)).toBe(180);
    expect((await h.service.health())[0]).toMatchObject({ failedPolls: 1, leadsFound: 180 });
    await close(h);
  }, 60_000);

  it('referrals updated while a poll pages through (write-backs, sellers) leave the query: the rows behind them are not skipped', async () => {
    const h = await harness('    pageSize: 50');
    await login(h);
    const ids = addReferrals(250, Date.now() - 7_200_000);
    // Before page 3 is served, 20 referrals already read are updated (as our own write-back PATCH does): they move
    // past the poll's upper bound, so an offset-based $skiptoken would now start 20 rows too far on.
    let served = 0;
    pc.onListPage = () => {
      if (++served !== 3) return;
      for (const id of ids.slice(10, 30)) pc.put({ ...pc.get(id)!, updatedDateTime: new Date(Date.now() + 60_000).toISOString() });
    };
    expect(await pollOnce(h)).toBe('completed');
    pc.onListPage = undefined;
    for (const id of ids) expect(await h.relay.leads.getLead(id), id).toBeDefined();
    expect(await queued(h)).toBe(250);
    await close(h);
  }, 60_000);

  it('when a whole page shares one instant, the poll follows @odata.nextLink as given; a referral served on two adjacent pages is taken once', async () => {
    const h = await harness('    pageSize: 50');
    await login(h);
    const base = Date.now() - 7_200_000;
    const ids = addReferrals(120, base);
    for (const id of ids.slice(0, 70)) pc.put({ ...pc.get(id)!, updatedDateTime: new Date(base).toISOString() });
    // And the last referral of a skiptoken page served again at the top of the next.
    pc.repeatAcrossPages = true;
    const lists = pc.listRequests.length;
    expect(await pollOnce(h)).toBe('completed');
    pc.repeatAcrossPages = false;
    expect(await queued(h)).toBe(120);
    // Page 2, asked afresh from the instant page 1 reached, is page 1 again: page 3 follows its nextLink.
    const calls = pc.listRequests.slice(lists);
    expect(calls.map((c) => c.query.$skiptoken !== undefined)).toEqual([false, false, true, false]);
    expect(await h.registry.metrics()).not.toContain('outcome="duplicate"');
    await close(h);
  }, 60_000);

  it('429 waits Retry-After; a timed-out call is retried with the same MS-RequestId and a new MS-CorrelationId', async () => {
    const h = await harness();
    await login(h);
    addReferrals(3, Date.now() - 3_600_000);
    pc.injectFault({ kind: 'throttle', retryAfterSeconds: 1 }, 1, 'list');
    pc.injectFault({ kind: 'hang' }, 1, 'list');
    const from = pc.requests.length;
    const started = Date.now();
    expect(await pollOnce(h)).toBe('completed');
    expect(await queued(h)).toBe(3);
    const calls = pc.requests.slice(from);
    expect(calls.map((c) => c.status)).toEqual([429, 'hang', 200]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(calls[1]!.headers['ms-requestid']).toBe(calls[2]!.headers['ms-requestid']);
    expect(calls[1]!.headers['ms-correlationid']).not.toBe(calls[2]!.headers['ms-correlationid']);
    await close(h);
  }, 60_000);

  it('a Partner Center 5xx fails the poll, which is retried: the lead still arrives, once', async () => {
    const h = await harness();
    await login(h);
    const [id] = addReferrals(1, Date.now() - 3_600_000);
    pc.injectFault({ kind: 'server-error', status: 503 }, 1, 'list');
    const from = pc.requests.length;
    expect(await pollOnce(h)).toBe('completed');
    expect(pc.requests.slice(from).map((c) => c.status)).toEqual([503, 200]);
    expect(await h.relay.leads.getLead(id!)).toMatchObject({ id });
    expect(await queued(h)).toBe(1);
    const [health] = await h.service.health();
    expect(health).toMatchObject({ state: 'running', polls: 1, failedPolls: 1, leadsFound: 1 });
    expect(health).not.toHaveProperty('lastError');
    const metrics = await h.registry.metrics();
    expect(metrics).toContain('leadrelay_source_polls_total{source="partner-center",outcome="failed"} 1');
    expect(metrics).toContain('leadrelay_source_polls_total{source="partner-center",outcome="ok"} 1');
    await close(h);
  }, 60_000);

  it('a Retry-After longer than the inline wait ends the attempt: the poll is retried that much later, not inside the call', async () => {
    const h = await harness('', 0, 500);
    await login(h);
    const [id] = addReferrals(1, Date.now() - 3_600_000);
    pc.injectFault({ kind: 'throttle', retryAfterSeconds: 3 }, 1, 'list');
    const from = pc.requests.length;
    const job = await h.service.pollNow('partner-center');
    // The attempt gave up at once and the job waits in delayed for the Retry-After.
    for (let i = 0; (await job.getState()) !== 'delayed'; i++) {
      if (i > 250) throw new Error(`poll never delayed: ${await job.getState()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const throttledAt = pc.requests.slice(from).find((c) => c.status === 429)!.at;
    expect(pc.requests.slice(from).map((c) => c.status)).toEqual([429]);
    expect((await h.service.health())[0]).toMatchObject({ failedPolls: 1, lastError: expect.stringMatching(/429, Retry-After 3 s/) });
    expect(await h.relay.leads.getLead(id!)).toBeUndefined();
    for (let i = 0; !['completed', 'failed'].includes(await job.getState()); i++) {
      if (i > 500) throw new Error('the retried poll never finished');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await job.getState()).toBe('completed');
    const calls = pc.requests.slice(from);
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect(calls[1]!.at - throttledAt).toBeGreaterThanOrEqual(2900);
    expect(await h.relay.leads.getLead(id!)).toMatchObject({ id });
    await close(h);
  }, 60_000);

  it('schedules one poll per enabled source and the daily reconcile job (getJobSchedulers)', async () => {
    const h = await harness();
    const scheduling = new SourceService({ config: h.config, relay: h.relay, logger: silentLogger, registry: new Registry(), createSource: h.source });
    await scheduling.start();
    await scheduling.close();
    const schedulers = await h.service.queue.getJobSchedulers();
    const byKey = Object.fromEntries(schedulers.map((x) => [x.key, x]));
    expect(Object.keys(byKey).sort()).toEqual(['poll.partner-center', 'reconcile']);
    expect(byKey.reconcile).toMatchObject({ name: 'reconcile', every: 86_400_000 });
    expect(byKey['poll.partner-center']).toMatchObject({ name: 'poll', every: 300_000 });
    expect(byKey.reconcile!.next).toBeGreaterThan(Date.now() - 60_000);
    await close(h);
  }, 60_000);

  it('backfills 10,000 referrals with start: all (figures printed, not asserted)', async () => {
    const h = await harness();
    await login(h);
    addReferrals(10_000, Date.now() - 86_400_000);
    const started = performance.now();
    expect(await pollOnce(h)).toBe('completed');
    const seconds = (performance.now() - started) / 1000;
    expect(await queued(h)).toBe(10_000);
    const lag = Number(/leadrelay_source_lag_seconds\{source="partner-center"\} ([\d.]+)/.exec(await h.registry.metrics())?.[1]);
    console.log(`referrals backfill: 10000 referrals in ${seconds.toFixed(2)} s = ${Math.round(10_000 / seconds)} leads/s; lag after ${lag.toFixed(2)} s`);
    await close(h);
  }, 180_000);
});

describe('reconcile', () => {
  it('compares the referrals Partner Center reports by day and offer with what was accepted; a lost lead raises reconciliation-gap', async () => {
    const h = await harness();
    await login(h);
    const solutions = { requirements: { solutions: [{ id: 'widget', publisherName: 'contoso' }] } };
    const ids = addReferrals(4, Date.now() - 3_600_000, { details: solutions });
    addReferrals(2, Date.now() - 3_000_000);
    addReferrals(1, Date.now() - 2_000_000, { direction: 'Outgoing' });
    expect(await pollOnce(h)).toBe('completed');
    await h.relay.redis.del(h.relay.keys.lead(ids[2]!));
    const gaps: unknown[] = [];
    h.service.on('reconciliation-gap', (r) => gaps.push(r));
    const report = await h.service.reconcileNow(new Date(Date.now() - 7_200_000));
    expect(report.sources[0]).toMatchObject({ source: 'partner-center', type: 'referrals', reported: 6, accepted: 5 });
    expect(Object.values(report.sources[0]!.byDay).reduce<Record<string, number>>((a, d) => { for (const [k, v] of Object.entries(d)) a[k] = (a[k] ?? 0) + v; return a; }, {}))
      .toEqual({ 'contoso.widget': 4, unknown: 2 });
    expect(report.missing).toEqual([{ source: 'partner-center', key: ids[2], leadId: ids[2], reason: expect.stringMatching(/not accepted/) }]);
    expect(gaps).toHaveLength(1);
    await close(h);
  }, 60_000);
});

describe('write-back', () => {
  it('a poll that dies after accepting a chunk but before queueing its write-backs still writes every referral back', async () => {
    const h = await harness('    writeBack: { destination: crm-table }');
    await login(h);
    const ids = addReferrals(5, Date.now() - 3_600_000, { details: { requirements: { solutions: [{ id: 'widget', name: 'Widget', publisherName: 'contoso' }] } } });
    const enqueue = h.service.writeBack!.enqueue.bind(h.service.writeBack!);
    let failed = false;
    h.service.writeBack!.enqueue = async (s, leads) => {
      if (!failed) { failed = true; throw new Error('connection lost'); }
      return enqueue(s, leads);
    };
    expect(await pollOnce(h)).toBe('completed');
    expect(failed).toBe(true);
    const delivery = new DeliveryService({ config: h.config, logger: silentLogger, metrics: new LeadRelayMetrics({ defaultMetrics: false }), lockDurationMs: 5000 });
    await delivery.start();
    const deadline = Date.now() + 30_000;
    while (ids.some((id) => !pc.get(id)!.externalReferenceId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const id of ids) expect(pc.get(id)!.externalReferenceId, id).not.toBe('');
    await delivery.stop();
    await close(h);
  }, 60_000);

  it('once delivered to writeBack.destination, the referral gets the record id as externalReferenceId and moves New → Active; a 412 re-reads and retries; a timeline entry', async () => {
    const h = await harness('    writeBack: { destination: crm-table, status: accept }');
    await login(h);
    const solutions = { requirements: { solutions: [{ id: 'widget', name: 'Widget', publisherName: 'contoso' }] } };
    const ids = addReferrals(3, Date.now() - 3_600_000, { details: solutions });
    const [notRouted] = addReferrals(1, Date.now() - 1_800_000);
    // A Microsoft seller edits the first referral between our read and our PATCH: its eTag is stale once.
    let edited = false;
    pc.onPatch = (id) => {
      if (id !== ids[0] || edited) return;
      edited = true;
      pc.put({ ...pc.get(id)!, name: 'edited by a seller' });
    };
    expect(await pollOnce(h)).toBe('completed');
    const delivery = new DeliveryService({ config: h.config, logger: silentLogger, metrics: new LeadRelayMetrics({ defaultMetrics: false }), lockDurationMs: 5000 });
    await delivery.start();
    const deadline = Date.now() + 30_000;
    while (ids.some((id) => !pc.get(id)!.externalReferenceId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const id of ids) {
      const record = await h.relay.leads.getRecord(id, 'crm-table');
      expect(record).toMatchObject({ state: 'delivered', remoteId: expect.any(String) });
      expect(pc.get(id)).toMatchObject({ externalReferenceId: record!.remoteId, status: 'Active', substatus: 'Accepted' });
    }
    expect(edited).toBe(true);
    expect(pc.get(ids[0]!)!.name).toBe('edited by a seller');
    const patches = pc.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(ids[0]!));
    expect(patches.map((p) => p.status)).toEqual([412, 204]);
    expect(JSON.parse(patches[1]!.body)).toEqual([
      { op: 'replace', path: '/externalReferenceId', value: expect.any(String) },
      { op: 'replace', path: '/status', value: 'Active' }, { op: 'replace', path: '/substatus', value: 'Accepted' },
    ]);
    expect(patches[1]!.headers['if-match']).toMatch(/^"[0-9a-f]{8}"$/);
    const status = await h.relay.leads.getStatus(ids[0]!);
    expect(status!.timeline.map((t) => [t.destination, t.outcome])).toEqual(expect.arrayContaining([['crm-table', 'delivered'], ['partner-center write-back', 'delivered']]));
    // The lead not routed to the write-back destination leaves its referral as it was.
    expect(pc.get(notRouted!)).toMatchObject({ externalReferenceId: '', status: 'New' });
    pc.onPatch = undefined;
    await delivery.stop();
    await close(h);
  }, 60_000);
});
