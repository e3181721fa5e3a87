import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '@leadrelay/config';
import { webhookIdOf } from '../../packages/destinations/src/https/https-mapping.js';
import { WebhookReceiver } from '../fakes/webhook-receiver/index.js';
import { Pipeline, marketplaceLead, pipelineConfig } from './pipeline-harness.js';

/**
 * An intake that dies between storing a lead and queueing it (a crash, a Redis failover between the two
 * steps of the spread layout's accept) leaves a lead nobody delivers unless its client posts it again.
 * Workers sweep for such leads on their own; several worker processes share one sweep per interval.
 */
describe('scheduled lead repair', () => {
  it('worker.repairEvery defaults to 10 minutes and reads a duration', () => {
    const base = 'intake: { apiKeys: [k-0123456789abcdef] }\ndestinations: [{ id: h, type: https, url: "https://example.com/h" }]\n';
    expect(parseConfig(base, 'a.yaml', { env: {} }).worker.repairEvery).toBe(600_000);
    expect(parseConfig(`${base}worker: { repairEvery: 300ms }\n`, 'b.yaml', { env: {} }).worker.repairEvery).toBe(300);
  });

  let receiver: WebhookReceiver;
  let p: Pipeline;
  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "${receiver.url('/hook')}" }
  - { id: other, type: https, url: "${receiver.url('/other')}" }`));
  });
  afterEach(async () => {
    await p.close();
    await receiver.stop();
  });

  it('queues a lead whose accept stopped after the lead was stored, once, at every destination; a fresh one is left to its intake', async () => {
    const stranded = marketplaceLead();
    const fresh = marketplaceLead();
    // Step 1 of an accept only, as an intake killed right after it leaves it: no jobs, never marked accepted.
    await p.relay.leads.begin(stranded, new Date(Date.now() - 120_000), ['hook', 'other'], []);
    await p.relay.leads.begin(fresh, new Date(), ['hook', 'other'], []);
    expect(await p.relay.status(stranded.id)).toBeUndefined();

    p.config.worker.repairEvery = 300; // as `worker: { repairEvery: 300ms }` reads
    await p.startWorkers(undefined, { repairGraceMs: 60_000 });
    await p.waitForState(stranded.id, 'hook', ['delivered']);
    await p.waitForState(stranded.id, 'other', ['delivered']);
    await new Promise((r) => setTimeout(r, 700));
    expect(receiver.acceptedCount(webhookIdOf('hook', stranded.id))).toBe(1);
    expect(receiver.acceptedCount(webhookIdOf('other', stranded.id))).toBe(1);
    expect(await p.relay.status(fresh.id)).toBeUndefined();
    expect(receiver.acceptedCount(webhookIdOf('hook', fresh.id))).toBe(0);
  });

  it('worker.repairEvery: 0s never sweeps', async () => {
    const stranded = marketplaceLead();
    await p.relay.leads.begin(stranded, new Date(Date.now() - 120_000), ['hook'], []);
    p.config.worker.repairEvery = 0;
    await p.startWorkers();
    await new Promise((r) => setTimeout(r, 800));
    expect(await p.relay.status(stranded.id)).toBeUndefined();
  });
});
