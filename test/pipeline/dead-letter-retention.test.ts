import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebhookReceiver } from '../fakes/webhook-receiver/index.js';
import { Pipeline, marketplaceLead, pipelineConfig } from './pipeline-harness.js';

/** `deadLetters.retention`: a dead letter and the status explaining it are kept as long as each other, then both go. */
describe('dead letters are kept for deadLetters.retention, with their lead status', () => {
  let receiver: WebhookReceiver;
  let p: Pipeline;
  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "${receiver.url('/hook')}", retry: { attempts: 1 } }`, 'leads: { retention: 1s }\ndeadLetters: { retention: 4s }'));
    await p.startWorkers();
  });
  afterEach(async () => {
    await p.close();
    await receiver.stop();
  });

  it('the status of a dead lead outlives leads.retention; dead letter and status are deleted after deadLetters.retention', async () => {
    receiver.failNext(1, 400, { body: { error: 'rejected' } });
    const { id } = await p.relay.accept(marketplaceLead(), { clientId: true });
    const diedAt = Date.now();
    await p.waitForState(id, 'hook', ['dead']);
    await new Promise((r) => setTimeout(r, 2_000)); // past leads.retention
    expect((await p.relay.status(id))?.deliveries.hook?.state, 'status of a dead lead at 2 s').toBe('dead');
    expect(await p.relay.deadLetters({ destination: 'hook' })).toHaveLength(1);

    // The sweep runs every second here (a quarter of the retention, at least 1 s).
    const deadline = diedAt + 15_000;
    while ((await p.relay.deadLetters({ destination: 'hook' })).length > 0) {
      if (Date.now() > deadline) throw new Error('the dead letter was not deleted after deadLetters.retention');
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(Date.now() - diedAt, 'not deleted before its retention').toBeGreaterThanOrEqual(4_000);
    while (await p.relay.status(id)) {
      if (Date.now() > deadline) throw new Error('the status outlived its dead letter');
      await new Promise((r) => setTimeout(r, 200));
    }
  });
});
