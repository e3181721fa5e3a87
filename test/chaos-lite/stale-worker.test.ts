import { afterEach, describe, expect, it } from 'vitest';
import { WebhookReceiver } from '../fakes/webhook-receiver/index.js';
import { Pipeline, marketplaceLead, pipelineConfig } from '../pipeline/pipeline-harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A worker can lose its lock on a delivery while still working on it: its event loop stalls longer than
 * worker.lockDuration, or Redis restarts and the lock expires meanwhile. BullMQ then hands the delivery to
 * another worker (or the same one again). Whatever the stale attempt ends with must not overwrite the outcome
 * of the attempt that owns the job: once the destination has the lead, its status stays `delivered`.
 */
describe('a worker that lost its lock', () => {
  let p: Pipeline | undefined;
  let receiver: WebhookReceiver | undefined;
  afterEach(async () => {
    await p?.close();
    await receiver?.stop();
  });

  it('cannot turn a delivered lead back into retrying', async () => {
    receiver = await WebhookReceiver.start();
    // The first attempt hangs, then fails: by then its delivery has been taken over and delivered.
    receiver.replyNext(1, { status: 503, delayMs: 8000 });
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "${receiver.url('/hook')}", timeout: 15s }`));
    const id = await p.accept(marketplaceLead());
    const jobId = p.relay.keys.jobId('hook', id);
    await p.startWorkers();
    // The first attempt has reached the receiver (waitFor only sees completed requests, so poll the count).
    for (const until = Date.now() + 10_000; receiver.requestCount < 1 && Date.now() < until;) await sleep(10);
    expect(receiver.requestCount).toBe(1);

    // Its lock expires under it, as across a Redis restart; BullMQ's stalled check hands the job out again.
    expect(await p.relay.redis.del(`${p.relay.keys.bullPrefix}:hook:${jobId}:lock`)).toBe(1);
    for (const until = Date.now() + 20_000; (await p.relay.queue('hook').getJobState(jobId)) !== 'completed' && Date.now() < until;) await sleep(50);
    expect(await p.relay.queue('hook').getJobState(jobId)).toBe('completed');
    expect(receiver.acceptedIds()).toHaveLength(1);

    // Then the stale attempt gets its 503 and records it.
    for (const until = Date.now() + 20_000; (await p.relay.status(id))!.timeline.length < 2 && Date.now() < until;) await sleep(50);
    const status = (await p.relay.status(id))!;
    expect(status.timeline.map((t) => t.outcome)).toEqual(['delivered', 'retrying']);
    expect(status.deliveries.hook).toMatchObject({ state: 'delivered' });
    await sleep(1000);
    expect(await p.relay.queue('hook').getJobState(jobId)).toBe('completed');
    expect((await p.relay.status(id))!.deliveries.hook!.state).toBe('delivered');
    expect(receiver.requestCount).toBe(2);
  }, 60_000);
});
