import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '@leadrelay/config';
import { Relay } from '@leadrelay/queue';
import { FakeMarketo, type FakeMarketoCall } from '../fakes/marketo/index.js';
import { LeadRelayProcesses, type LeadRelayProcess } from '../helpers/leadrelay-process.js';
import { freePort, uniquePrefix } from '../helpers/index.js';
import { API_KEY, marketplaceLead } from './pipeline-harness.js';

const PEOPLE = 8;
const LEADS_EACH = 4;

/** The emails of a leads.json call's records. */
function emailsOf(call: FakeMarketoCall): string[] {
  return ((call.body as { input?: { email?: string }[] })?.input ?? []).map((r) => String(r.email).toLowerCase());
}

/**
 * A real Marketo creates two persons when one email is upserted by two calls at once (Adobe `leads.md`),
 * and the fake does the same. Two worker processes deliver several leads per email: every lead is
 * delivered, each email is one person, no call carries an email twice and no two calls in flight at
 * once share one (the lookup value is held in Redis across workers).
 */
describe('Marketo: one email is never in flight twice, across worker processes', () => {
  const processes = new LeadRelayProcesses();
  const dir = mkdtempSync(join(tmpdir(), 'leadrelay-mkto-race-'));
  let fake: FakeMarketo | undefined;
  let relay: Relay | undefined;
  afterEach(async () => {
    await processes.killAll();
    await relay?.close();
    await fake?.stop();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`${PEOPLE} people × ${LEADS_EACH} leads through two workers: ${PEOPLE} Marketo persons, no overlapping call shares an email`, async () => {
    // Slow enough that the two workers' calls overlap, as they do against a real instance (90 s timeout).
    fake = await FakeMarketo.start({ latencyMs: 150 });
    const yaml = `
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('mrace')} }
intake: { apiKeys: ["${API_KEY}"] }
worker: { host: 127.0.0.1, metricsPort: \${LEADRELAY_METRICS_PORT:-0} }
retry: { attempts: 5, initialDelay: 100ms, maxDelay: 1s }
destinations:
  - { id: mkto, type: marketo, restUrl: "${fake.url}", clientId: "${fake.clientId}", clientSecret: "${fake.clientSecret}", batchSize: 6, batchWait: 50ms, concurrency: 3 }
`;
    const configPath = join(dir, 'leadrelay.yaml');
    writeFileSync(configPath, yaml);
    relay = new Relay(parseConfig(yaml, configPath, { env: {} }));
    const ports = [await freePort(), await freePort()];
    const workers = ports.map((port, i) => processes.start(['worker', '--config', configPath], { name: `worker-${i + 1}`, env: { LEADRELAY_METRICS_PORT: String(port) } }));
    await Promise.all(workers.map((w, i) => w.waitReady(ports[i]!)));

    const ids: string[] = [];
    const stamp = Date.now();
    for (let round = 0; round < LEADS_EACH; round++) {
      for (let p = 0; p < PEOPLE; p++) {
        const lead = marketplaceLead({ UserDetails: { FirstName: 'Ada', LastName: `Round${round}`, Email: `person${p}-${stamp}@contoso.com`, Company: 'Contoso', Country: 'US' } });
        ids.push((await relay.accept(lead, { clientId: false })).id);
      }
    }

    const deadline = Date.now() + 60_000;
    for (const id of ids) {
      for (;;) {
        const s = await relay.status(id);
        if (s?.deliveries.mkto?.state === 'delivered') break;
        // Without the lock the duplicates show up as dead leads: 1007 "Multiple leads match the lookup criteria".
        if (s?.deliveries.mkto?.state === 'dead' || Date.now() > deadline) throw new Error(`lead ${id} not delivered: ${JSON.stringify(s?.deliveries.mkto)}\n${workers.map((w) => w.stderrTail).join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }

    expect(fake.duplicates()).toEqual([]);
    expect(fake.uniqueLeadCount).toBe(PEOPLE);
    const writes = fake.callsTo('/rest/v1/leads.json').filter((c) => c.method === 'POST');
    // Both workers sent calls, and calls did overlap: the serialisation was tested, not avoided.
    expect(fake.stats.maxInFlight).toBeGreaterThanOrEqual(2);
    for (const c of writes) expect(new Set(emailsOf(c)).size, 'an email twice in one call').toBe(emailsOf(c).length);
    for (const a of writes) {
      for (const b of writes) {
        if (a === b || !(a.at < (b.doneAt ?? Infinity) && b.at < (a.doneAt ?? Infinity))) continue;
        const shared = emailsOf(a).filter((e) => emailsOf(b).includes(e));
        expect(shared, 'two calls in flight at once with one email').toEqual([]);
      }
    }
    expect(await relay.deadLetters({})).toHaveLength(0);
  }, 120_000);

  it('a worker SIGKILLed while its call holds an email does not hold that email for longer than the lease', async () => {
    fake = await FakeMarketo.start();
    const yaml = `
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('mkill')} }
intake: { apiKeys: ["${API_KEY}"] }
worker: { host: 127.0.0.1, metricsPort: \${LEADRELAY_METRICS_PORT:-0} }
retry: { attempts: 5, initialDelay: 100ms, maxDelay: 1s }
destinations:
  - { id: mkto, type: marketo, restUrl: "${fake.url}", clientId: "${fake.clientId}", clientSecret: "${fake.clientSecret}", batchSize: 1, batchWait: 0s }
`;
    const configPath = join(dir, 'leadrelay.yaml');
    writeFileSync(configPath, yaml);
    relay = new Relay(parseConfig(yaml, configPath, { env: {} }));
    const stamp = Date.now();
    const lead = (email: string, last: string) => marketplaceLead({ UserDetails: { FirstName: 'Ada', LastName: last, Email: email, Company: 'Contoso', Country: 'US' } });
    const delivered = async (id: string, withinMs: number, who: LeadRelayProcess) => {
      const deadline = Date.now() + withinMs;
      for (;;) {
        const s = await relay!.status(id);
        if (s?.deliveries.mkto?.state === 'delivered') return;
        if (Date.now() > deadline) throw new Error(`lead ${id} not delivered within ${withinMs} ms: ${JSON.stringify(s?.deliveries.mkto)}\n${who.stderrTail}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    const [port1, port2] = [await freePort(), await freePort()];
    const first = processes.start(['worker', '--config', configPath], { name: 'worker-1', env: { LEADRELAY_METRICS_PORT: String(port1) } });
    await first.waitReady(port1);
    // A first lead reads describe, so the held call below is the write.
    await delivered((await relay.accept(lead(`warm-${stamp}@contoso.com`, 'Warm'), { clientId: false })).id, 30_000, first);

    const email = `held-${stamp}@contoso.com`;
    const release = fake.hold();
    const a = (await relay.accept(lead(email, 'First'), { clientId: false })).id;
    await fake.waitForInFlight(1, 15_000);
    await first.kill('SIGKILL');
    release();

    const second = processes.start(['worker', '--config', configPath], { name: 'worker-2', env: { LEADRELAY_METRICS_PORT: String(port2) } });
    await second.waitReady(port2);
    const b = (await relay.accept(lead(email, 'Second'), { clientId: false })).id;
    // The dead worker's hold ends with its lease (10 s), inside one lock wait (30 s): no LOOKUP_BUSY retry. 28 s
    // leaves a loaded machine room and still fails a hold that lasts the call's timeout plus the lease (40 s).
    await delivered(b, 28_000, second);
    await delivered(a, 40_000, second); // back from the stalled check (lockDuration 20 s)
    expect(fake.duplicates()).toEqual([]);
    expect(fake.findLeads('email', email)).toHaveLength(1);
  }, 120_000);
});
