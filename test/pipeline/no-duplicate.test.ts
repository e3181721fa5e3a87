import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebhookReceiver } from '../fakes/webhook-receiver/index.js';
import { Pipeline, marketplaceLead, pipelineConfig } from './pipeline-harness.js';

/** Before calling a destination a worker checks the lead's delivery record there: a lead already delivered is never sent again. */
describe('no duplicate after a delivery the job does not know about', () => {
  let receiver: WebhookReceiver;
  let p: Pipeline;
  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "${receiver.url('/hook')}" }`));
  });
  afterEach(async () => {
    await p.close();
    await receiver.stop();
  });

  it('a worker that died after the destination accepted (record written, job not completed): the next worker does not redeliver', async () => {
    const id = await p.accept(marketplaceLead());
    // What the dead worker left: the delivered record, and the job back in waiting (as the stalled check puts it).
    const at = new Date().toISOString();
    await p.relay.leads.recordAttempt(id, 'hook', { state: 'delivered', attempts: 1, deliveredAt: at, remoteId: 'r-1' }, { destination: 'hook', attempt: 1, at, outcome: 'delivered', durationMs: 5 });
    await p.startWorkers();
    await p.waitIdle();
    expect(receiver.requestCount).toBe(0);
    const job = await p.relay.queue('hook').getJob(p.relay.keys.jobId('hook', id));
    expect(job ? await job.getState() : 'removed').toMatch(/completed|removed/);
    expect((await p.relay.status(id))!.deliveries.hook).toMatchObject({ state: 'delivered', remoteId: 'r-1' });
  });

  it('a half-failed accept re-posted after the completed job was removed does not deliver twice', async () => {
    await p.startWorkers();
    const lead = marketplaceLead();
    const { id } = await p.relay.accept(lead, { clientId: true });
    await p.waitForState(id, 'hook', ['delivered']);
    await p.waitIdle();
    // The accept's last step never answered (the client saw a 503), and removeOnComplete has removed the job.
    await p.relay.redis.hdel(p.relay.keys.lead(id), 'accepted');
    await (await p.relay.queue('hook').getJob(p.relay.keys.jobId('hook', id)))?.remove();
    const again = await p.relay.accept(lead, { clientId: true });
    expect(again.id).toBe(id);
    await new Promise((r) => setTimeout(r, 500));
    await p.waitIdle();
    expect(receiver.requestCount).toBe(1);
    expect(receiver.duplicateIds()).toEqual([]);
    expect((await p.relay.status(id))!.deliveries.hook!.state).toBe('delivered');
  });
});
