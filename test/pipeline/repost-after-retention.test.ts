import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebhookReceiver } from '../fakes/webhook-receiver/index.js';
import { Pipeline, marketplaceLead, pipelineConfig } from './pipeline-harness.js';

/**
 * A lead's record expires after `leads.retention` (a dead one's after `deadLetters.retention`), but its
 * job can outlive it: a delivered job is kept for up to an hour, a dead letter until a worker's sweep
 * deletes it (no worker running, no sweep). A re-post of the lead then finds the job id taken. It must
 * not answer 202 and then show `queued` for a job no worker will ever take.
 */
describe('a lead re-posted after its record expired', () => {
  let receiver: WebhookReceiver;
  let p: Pipeline;
  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "${receiver.url('/hook')}", retry: { attempts: 1 } }`, 'leads: { retention: 3s }\ndeadLetters: { retention: 3s }'));
    await p.startWorkers();
  });
  afterEach(async () => {
    await p.close();
    await receiver.stop();
  });

  async function waitExpired(id: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (await p.relay.status(id)) {
      if (Date.now() > deadline) throw new Error(`the record of ${id} did not expire`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('whose delivery died: it is delivered now (the dead job makes way for a fresh one)', async () => {
    receiver.failNext(1, 400, { body: { error: 'rejected' } });
    const lead = marketplaceLead();
    const { id } = await p.relay.accept(lead, { clientId: true });
    await p.waitForState(id, 'hook', ['dead']);
    await p.stopWorkers(); // and so their dead-letter sweep
    await waitExpired(id);
    expect(await p.relay.deadLetters({ destination: 'hook', leadId: id }), 'the dead letter outlived the record').toHaveLength(1);

    await p.startWorkers();
    const again = await p.relay.accept(lead, { clientId: true });
    expect(again).toMatchObject({ id, duplicate: false });
    expect((await p.waitForState(id, 'hook', ['delivered'])).deliveries.hook!.state).toBe('delivered');
    expect(receiver.requestCount).toBe(2);
    expect(await p.relay.deadLetters({ destination: 'hook', leadId: id })).toHaveLength(0);
  });

  it('that was delivered: it says delivered and is not sent again', async () => {
    const lead = marketplaceLead();
    const { id } = await p.relay.accept(lead, { clientId: true });
    await p.waitForState(id, 'hook', ['delivered']);
    await waitExpired(id);

    await p.relay.accept(lead, { clientId: true });
    expect((await p.waitForState(id, 'hook', ['delivered'], 5_000)).deliveries.hook!.state).toBe('delivered');
    await p.waitIdle();
    expect(receiver.requestCount).toBe(1);
  });

  it('through the step-by-step accept (a lead with warnings) as well', async () => {
    receiver.failNext(1, 400, { body: { error: 'rejected' } });
    const lead = marketplaceLead();
    const warnings = [{ path: 'company', message: 'cut to 255 characters' }];
    const { id } = await p.relay.accept(lead, { clientId: true, warnings });
    await p.waitForState(id, 'hook', ['dead']);
    await p.stopWorkers();
    await waitExpired(id);

    await p.startWorkers();
    await p.relay.accept(lead, { clientId: true, warnings });
    expect((await p.waitForState(id, 'hook', ['delivered'])).deliveries.hook!.state).toBe('delivered');
    expect(receiver.requestCount).toBe(2);
  });

  it('inside the dead-letter retention: a duplicate that says dead (replay it with dlq replay)', async () => {
    receiver.failNext(1, 400, { body: { error: 'rejected' } });
    const lead = marketplaceLead();
    const { id } = await p.relay.accept(lead, { clientId: true });
    await p.waitForState(id, 'hook', ['dead']);
    expect(await p.relay.accept(lead, { clientId: true })).toMatchObject({ id, duplicate: true });
    expect((await p.relay.status(id))!.deliveries.hook!.state).toBe('dead');
    expect(receiver.requestCount).toBe(1);
  });
});
