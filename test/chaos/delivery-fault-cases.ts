import { afterEach, describe, expect, inject, it } from 'vitest';
import { leadRecordId } from '../../packages/destinations/src/dynamics/lead-record-id.js';
import { WebhookReceiver } from '../fakes/webhook-receiver/index.js';
import { DestinationFakes } from '../helpers/destination-fakes.js';
import { readTlsCert } from '../helpers/tls-cert.js';
import { FaultCaseBench } from './fault-case-bench.js';

export interface DeliveryFaultCaseOptions {
  /** Leads in each case. */
  leads: number;
}

/** Real CRM APIs say how long to back off; 60 s is what Dataverse and Salesforce typically send. */
const RETRY_AFTER_S = 60;
const SHUTDOWN_MS = 2000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The delivery faults of README: How delivery behaves, each with `leadrelay worker` processes and intake
 * posted to over HTTP, each followed by the audit equation: a 429 `Retry-After: 60` seen by two workers,
 * a SIGTERM while the destination hangs, a re-post after the lead's record expired, a SIGKILL after the
 * destination accepted.
 */
export function deliveryFaultCases(o: DeliveryFaultCaseOptions): void {
  describe(`delivery fault cases (${o.leads} leads each), each followed by the audit`, () => {
    let bench: FaultCaseBench | undefined;
    let receiver: WebhookReceiver | undefined;
    let fakes: DestinationFakes | undefined;
    afterEach(async () => {
      await bench?.stop();
      await receiver?.stop();
      await fakes?.stop();
      bench = receiver = fakes = undefined;
    }, 60_000);

    const hook = (path = '/hook') => `  - { id: hook, type: https, url: "${receiver!.url(path)}", concurrency: 3 }`;

    it(`a 429 with Retry-After: ${RETRY_AFTER_S} holds both worker processes for the whole window: ≤ 1 request per worker, 0 dead, 0 duplicate`, async () => {
      // Like a real API over its limit: every request in the window is refused with the same Retry-After.
      receiver = await WebhookReceiver.start({ defaultReply: { status: 429, headers: { 'Retry-After': String(RETRY_AFTER_S) } } });
      bench = await FaultCaseBench.start({
        redisUrl: inject('redisUrl'), destinationsYaml: hook(),
        extraYaml: `worker: { host: 127.0.0.1, metricsPort: \${LEADRELAY_METRICS_PORT:-0} }
retry: { attempts: 2, initialDelay: 100ms, maxDelay: 1s, maxThrottleWait: 10m }`,
      });
      // Each worker's copy of the config sends to its own path, so the receiver can tell who sent what.
      const workers = ['worker-1', 'worker-2'];
      await Promise.all(workers.map((w) => bench!.startWorker(w, hook(`/hook/${w}`))));
      const ids = await bench.postMany(o.leads);
      await receiver.waitForRequests(1, 30_000);
      const first = receiver.requests[0]!.receivedAt.getTime();
      const windowEnd = first + RETRY_AFTER_S * 1000;
      setTimeout(() => receiver?.setDefaultReply({ status: 200 }), windowEnd - Date.now() - 100);

      // Mid-window: the destination shows throttled, its leads delayed (none held active), and the audit balances.
      await sleep(5000);
      const stats = await bench.relay.stats('hook');
      expect(stats.state).toBe('throttled');
      expect(stats.active).toBe(0);
      expect(stats.delayed + stats.waiting).toBe(o.leads);
      expect((await bench.relay.status(ids[0]!))!.deliveries.hook!.state).toBe('delayed');
      await bench.auditHolds({ leads: o.leads, drained: false });

      await receiver.waitForAccepted(o.leads, (RETRY_AFTER_S + 90) * 1000);
      // Requests already on their way when the first 429 came back arrive within a few ms of it.
      const inWindow = receiver.requests.filter((r) => r.receivedAt.getTime() > first + 500 && r.receivedAt.getTime() < windowEnd - 500);
      const perWorker = Object.fromEntries(workers.map((w) => [w, inWindow.filter((r) => r.path === `/hook/${w}`).length]));
      console.log(`Retry-After ${RETRY_AFTER_S} s across two workers: requests inside the window after the first 429, per worker: ${JSON.stringify(perWorker)}`);
      for (const w of workers) expect(perWorker[w], `${w}: requests inside the window`).toBeLessThanOrEqual(1);
      expect(receiver.requests.every((r) => workers.some((w) => r.path === `/hook/${w}`))).toBe(true);
      expect(receiver.duplicateIds()).toEqual([]);
      await bench.waitDrained();
      for (const id of ids) expect((await bench.relay.status(id))!.deliveries.hook).toMatchObject({ state: 'delivered', attempts: 1 });
      await bench.auditHolds({ leads: o.leads, drained: true });
    }, (RETRY_AFTER_S + 150) * 1000);

    it('a SIGTERM while the destination hangs: both workers exit 0 within shutdownTimeout, no attempt is used, the next worker delivers each lead once', async () => {
      receiver = await WebhookReceiver.start({ defaultReply: { status: 200, delayMs: 600_000 } });
      bench = await FaultCaseBench.start({
        redisUrl: inject('redisUrl'), destinationsYaml: hook(),
        extraYaml: `worker: { host: 127.0.0.1, metricsPort: \${LEADRELAY_METRICS_PORT:-0}, lockDuration: 2s, shutdownTimeout: ${SHUTDOWN_MS}ms }
retry: { attempts: 3, initialDelay: 100ms, maxDelay: 1s }`,
      });
      const workers = await Promise.all([bench.startWorker('worker-1'), bench.startWorker('worker-2')]);
      const ids = await bench.postMany(o.leads);
      // Every slot of both workers holds a call the destination never answers.
      await receiver.waitFor((r) => r.requests.length >= Math.min(o.leads, 6), 30_000);
      const before = receiver.requests.length;

      const signalled = Date.now();
      const exits = workers.map((w) => w.exited());
      for (const w of workers) w.proc.kill('SIGTERM');
      const codes = await Promise.all(exits);
      const stopMs = Date.now() - signalled;
      console.log(`SIGTERM with a hung destination: ${before} calls in flight, both workers exited ${JSON.stringify(codes.map((c) => c.code))} after ${stopMs} ms (shutdownTimeout ${SHUTDOWN_MS} ms)`);
      expect(codes).toEqual([{ code: 0, signal: null }, { code: 0, signal: null }]);
      expect(stopMs).toBeLessThan(SHUTDOWN_MS + 1500);
      const stats = await bench.relay.stats('hook');
      expect({ active: stats.active, waiting: stats.waiting + stats.delayed, dead: stats.dead }).toEqual({ active: 0, waiting: o.leads, dead: 0 });
      await bench.auditHolds({ leads: o.leads, drained: false });

      receiver.setDefaultReply({ status: 200 });
      await bench.startWorker('worker-3');
      await receiver.waitForAccepted(o.leads, 60_000);
      await bench.waitDrained();
      // The aborted calls used no attempt; the one delivery that succeeded is attempt 1.
      for (const id of ids) expect((await bench.relay.status(id))!.deliveries.hook).toMatchObject({ state: 'delivered', attempts: 1 });
      expect(receiver.duplicateIds()).toEqual([]);
      await bench.auditHolds({ leads: o.leads, drained: true });
    }, 120_000);

    it('a re-post after the lead\'s record expired: a dead lead is delivered now, a delivered one is not sent again', async () => {
      receiver = await WebhookReceiver.start();
      bench = await FaultCaseBench.start({
        redisUrl: inject('redisUrl'), destinationsYaml: `  - { id: hook, type: https, url: "${receiver.url('/hook')}", retry: { attempts: 1 } }`,
        extraYaml: `worker: { host: 127.0.0.1, metricsPort: \${LEADRELAY_METRICS_PORT:-0} }
leads: { retention: 3s }
deadLetters: { retention: 3s }`,
      });
      const worker = await bench.startWorker('worker-1');
      // The first half dies (the destination refuses them once), the second half is delivered.
      const dying = Math.ceil(o.leads / 2);
      receiver.failNext(dying, 400, { body: { error: 'rejected' } });
      const dead = await bench.postMany(dying);
      for (const id of dead) await bench.waitForState(id, 'hook', ['dead']);
      const delivered = await bench.postMany(o.leads - dying, dying);
      for (const id of delivered) await bench.waitForState(id, 'hook', ['delivered']);
      // A deploy: the worker stops (so does its dead-letter sweep) and the records expire meanwhile.
      await worker.kill('SIGTERM');
      for (const id of [...dead, ...delivered]) {
        for (const until = Date.now() + 15_000; await bench.relay.status(id);) {
          if (Date.now() > until) throw new Error(`the record of ${id} did not expire`);
          await sleep(100);
        }
      }
      expect((await bench.relay.deadLetters({ destination: 'hook' })).length, 'the dead letters outlived their records').toBe(dying);

      await bench.startWorker('worker-2');
      const requestsBefore = receiver.requests.length;
      for (let n = 0; n < o.leads; n++) {
        const again = await bench.post(n);
        expect(again.id).toBe([...dead, ...delivered][n]);
      }
      for (const id of [...dead, ...delivered]) await bench.waitForState(id, 'hook', ['delivered']);
      await bench.waitDrained();
      // Only the dead ones went out again.
      expect(receiver.requests.length - requestsBefore).toBe(dying);
      expect(receiver.acceptedIds()).toHaveLength(o.leads);
      expect(receiver.duplicateIds()).toEqual([]);
      expect(await bench.relay.deadLetters({ destination: 'hook' })).toHaveLength(0);
      await bench.auditHolds({ leads: o.leads, drained: true });
    }, 120_000);

    it('a SIGKILL after the destination accepted (Dynamics wrote the records, the answer never came back): redelivered by another worker, one record per lead', async () => {
      fakes = await DestinationFakes.start({ azuriteConnectionString: inject('azuriteConnectionString'), tls: readTlsCert(inject('tlsCert')) });
      bench = await FaultCaseBench.start({
        redisUrl: inject('redisUrl'), destinationsYaml: fakes.destinationsYaml({ only: ['crm'] }), secrets: fakes.secrets,
        extraYaml: `worker: { host: 127.0.0.1, metricsPort: \${LEADRELAY_METRICS_PORT:-0}, lockDuration: 2s }
retry: { attempts: 3, initialDelay: 100ms, maxDelay: 1s }`,
      });
      const victim = await bench.startWorker('victim');
      // A first lead through the victim, so it has its token and has checked the org: the faults below hit lead writes.
      const warm = await bench.postMany(1);
      await bench.waitForState(warm[0]!, 'crm', ['delivered']);

      // As many as the type's concurrency (4): every slot of the victim holds a committed write.
      const hung = Math.min(o.leads - 1, 4);
      fakes.dv.injectFault({ kind: 'hang-after-write', delayMs: 120_000 }, hung);
      const ids = [...warm, ...(await bench.postMany(o.leads - 1, 1))];
      // The victim's calls have been committed at Dataverse and wait for their answers.
      for (const until = Date.now() + 30_000; fakes.dv.leads.size < 1 + hung;) {
        if (Date.now() > until) throw new Error(`Dataverse holds ${fakes.dv.leads.size} records, not ${1 + hung}`);
        await sleep(50);
      }
      await victim.kill('SIGKILL');
      expect(await bench.relay.stats('crm')).toMatchObject({ dead: 0 });
      await bench.auditHolds({ leads: o.leads, drained: false });

      await bench.startWorker('survivor');
      for (const id of ids) await bench.waitForState(id, 'crm', ['delivered'], 60_000);
      await bench.waitDrained();
      const records = [...fakes.dv.leads.keys()];
      const expected = ids.map((id) => leadRecordId(id));
      console.log(`SIGKILL after Dataverse wrote ${hung} leads: ${fakes.dv.leadWrites.length} writes for ${records.length} records`);
      expect(records.sort()).toEqual([...expected].sort());
      // The hung ones were written twice (the upsert by the lead's record id made the second a no-op), the rest once.
      expect(fakes.dv.leadWrites.length).toBeGreaterThanOrEqual(o.leads + hung);
      expect(bench.leakedSecrets).toEqual([]);
      await bench.auditHolds({ leads: o.leads, drained: true });
    }, 120_000);
  });
}
