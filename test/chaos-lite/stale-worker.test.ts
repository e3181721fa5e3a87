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

  it('shares its attempt in flight when BullMQ hands it the same job again, instead of delivering twice', async () => {
    receiver = await WebhookReceiver.start();
    // The first attempt hangs, then fails.
    receiver.replyNext(1, { status: 503, delayMs: 4000 });
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "${receiver.url('/hook')}", timeout: 15s }`));
    const id = await p.accept(marketplaceLead());
    const jobId = p.relay.keys.jobId('hook', id);
    await p.startWorkers();
    for (const until = Date.now() + 10_000; receiver.requestCount < 1 && Date.now() < until;) await sleep(10);
    expect(receiver.requestCount).toBe(1);

    // Its lock expires under it, as across a Redis restart; BullMQ's stalled check hands the job out again,
    // to this same worker (the only one).
    expect(await p.relay.redis.del(p.relay.keys.queueKey('hook', `${jobId}:lock`))).toBe(1);
    for (const until = Date.now() + 10_000; (await p.relay.queue('hook').getJobState(jobId)) !== 'active' && Date.now() < until;) await sleep(50);
    await sleep(1000);
    // The second copy joined the first attempt: still one request at the receiver.
    expect(receiver.requestCount).toBe(1);

    const status = await p.waitForState(id, 'hook', ['delivered'], 20_000);
    expect(status.timeline.map((t) => t.outcome)).toEqual(['retried', 'delivered']);
    expect(receiver.requestCount).toBe(2);
    expect(receiver.acceptedIds()).toHaveLength(1);
  }, 60_000);

  it('a stale attempt finishing after another worker delivered cannot turn the lead back into retrying', async () => {
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "https://hook.example/leads" }`));
    const id = await p.accept(marketplaceLead());
    const at = new Date().toISOString();
    const entry = (outcome: 'delivered' | 'retried', attempt: number) => ({ destination: 'hook', attempt, at, outcome, durationMs: 5 });
    // The new owner delivers; then the stale attempt records its failure.
    expect(await p.relay.leads.recordAttempt(id, 'hook', { state: 'delivered', attempts: 2, deliveredAt: at }, entry('delivered', 2))).toBe(true);
    expect(await p.relay.leads.recordAttempt(id, 'hook', { state: 'retrying', attempts: 1, lastError: 'HTTP 503' }, entry('retried', 1))).toBe(false);
    const status = (await p.relay.status(id))!;
    expect(status.deliveries.hook).toMatchObject({ state: 'delivered', attempts: 2 });
    expect(status.timeline.map((t) => t.outcome)).toEqual(['delivered', 'retried']);
    // A repeated delivery (at-least-once) is counted once in stats.
    await p.relay.leads.recordAttempt(id, 'hook', { state: 'delivered', attempts: 3, deliveredAt: at }, entry('delivered', 3));
    expect((await p.relay.stats('hook')).delivered).toBe(1);
    expect((await p.relay.stats('hook')).deliveredLastHour).toBe(1);
  });
});
