import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebhookReceiver } from '../../../test/fakes/webhook-receiver/index.js';
import { Pipeline, marketplaceLead, pipelineConfig } from '../../../test/pipeline/pipeline-harness.js';

/** Waits until `check` holds (polling real Redis). */
async function until(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition never held');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('destination health that is true (real Redis, BullMQ workers and a webhook receiver)', () => {
  let receiver: WebhookReceiver;
  const pipelines: Pipeline[] = [];
  beforeAll(async () => { receiver = await WebhookReceiver.start(); });
  afterEach(async () => { await Promise.all(pipelines.splice(0).map((p) => p.close())); receiver.clear(); receiver.setDefaultReply({ status: 200 }); });
  afterAll(async () => { await receiver.stop(); });

  const pipeline = async (path: string, extra = '') => {
    const p = new Pipeline(pipelineConfig(`  - { id: hook, type: https, url: "${receiver.url(path)}?code=k3y-Secret-value"${extra} }`));
    pipelines.push(p);
    await p.startWorkers();
    return p;
  };

  it('the same 404 for three different leads pauses the destination with the full path, keeps every lead, and a fix delivers them', async () => {
    receiver.setDefaultReply({ status: 404, body: 'Not Found' });
    // A backoff far longer than the three leads take to arrive, even on a loaded machine: their retries are not what this is about.
    const p = await pipeline('/wrong-path/leads', ', retry: { attempts: 3, initialDelay: 20s, maxDelay: 20s }');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(await p.accept(marketplaceLead()));
      // Not dead-lettered one by one: each waits for its retry until the streak shows the address is wrong.
      if (i < 2) {
        await p.waitForState(ids[i]!, 'hook', ['retrying']);
        // Its job is back in the queue (delayed for its retry) before the next lead comes.
        await until(async () => (await (await p.relay.queue('hook').getJob(p.relay.keys.jobId('hook', ids[i]!)))?.getState()) === 'delayed');
      }
    }
    await until(async () => (await p.relay.stats('hook')).state === 'paused');
    for (const id of ids) await p.waitForState(id, 'hook', ['paused']);
    const stats = await p.relay.stats('hook');
    expect(stats.pausedBy).toBe('configuration');
    expect(stats.pausedReason).toContain(`${receiver.url('/wrong-path/leads')}`);
    expect(stats.pausedReason).toContain('HTTP 404');
    expect(stats.pausedReason).not.toContain('k3y-Secret-value');
    expect(stats.remediation).toMatch(/leadrelay resume hook/);
    expect(stats.lastErrorCode).toBe('LR_ENDPOINT_REJECTS (404)');
    expect(await p.relay.deadLetters({ destination: 'hook' })).toEqual([]);
    expect(stats.waiting).toBe(3);
    expect(stats.deadLastHour, 'no lead was dead-lettered on the way to the pause').toBe(0);

    receiver.setDefaultReply({ status: 200 });
    await p.relay.resume('hook');
    for (const id of ids) await p.waitForState(id, 'hook', ['delivered']);
    const after = await p.relay.stats('hook');
    expect(after.state).toBe('running');
    expect(after.lastError).toBeUndefined();
    expect(after.remediation).toBeUndefined();
    expect(after.lastSuccessAt).toBeDefined();
    expect(after.deliveredLastHour).toBe(3);
    // The third lead's attempt paused the destination: it is not a failed delivery attempt.
    expect(after.failedAttemptsLastHour).toBe(2);
    expect(after.successRateLastHour).toBe(0.6);
    expect(after.hourly).toHaveLength(24);
    expect(after.hourly.at(-1)).toMatchObject({ delivered: 3, failed: 2 });
  });

  it('a 404 for one lead among delivered ones is dead after one retry, not a pause', async () => {
    // Backoff of at least 3 s: time for another lead to be delivered before the refused one is retried.
    const p = await pipeline('/hook', ', retry: { attempts: 3, initialDelay: 6s, maxDelay: 6s }');
    receiver.failNext(1, 404, { body: 'no such campaign' });
    const id = await p.accept(marketplaceLead());
    expect((await p.waitForState(id, 'hook', ['retrying'])).deliveries.hook).toMatchObject({ state: 'retrying', attempts: 1 });
    // Another lead delivered meanwhile: the address is fine, this lead is what the receiver refuses.
    await p.waitForState(await p.accept(marketplaceLead()), 'hook', ['delivered']);
    receiver.failNext(1, 404, { body: 'no such campaign' });
    const dead = await p.waitForState(id, 'hook', ['dead']);
    expect(dead.deliveries.hook!.attempts).toBe(2);
    expect((await p.relay.stats('hook')).state).not.toBe('paused');
  });

  it('a 400 for several leads stays a per-lead rejection (dead-lettered, not paused)', async () => {
    receiver.setDefaultReply({ status: 400, body: { error: 'Email is required' } });
    const p = await pipeline('/hook');
    for (let i = 0; i < 4; i++) await p.waitForState(await p.accept(marketplaceLead()), 'hook', ['dead']);
    const stats = await p.relay.stats('hook');
    expect(stats.state).toBe('failing');
    expect(stats.pausedReason).toBeUndefined();
  });

  it('failing while not paused; dead after retries says what to check and how to replay, not "none needed"', async () => {
    receiver.setDefaultReply({ status: 503, body: 'upstream down' });
    const p = await pipeline('/hook');
    const id = await p.accept(marketplaceLead());
    await p.waitForState(id, 'hook', ['dead']);
    const stats = await p.relay.stats('hook');
    expect(stats.state).toBe('failing');
    expect(stats.successRateLastHour).toBe(0);
    expect(stats.lastErrorAt).toBeDefined();
    const [dl] = await p.relay.deadLetters({ destination: 'hook' });
    expect(dl!.remediation).not.toMatch(/None needed/);
    expect(dl!.remediation).toMatch(/^Dead: it failed every one of 3 attempts/);
    expect(dl!.remediation).toContain('leadrelay dlq replay --destination hook');
    expect(stats.remediation).toBe(dl!.remediation);
  });

  it('an operator pause says so, not a leftover hint of an earlier error', async () => {
    receiver.setDefaultReply({ status: 200 }).failNext(1, 429, { headers: { 'Retry-After': '0' } });
    const p = await pipeline('/hook');
    await p.waitForState(await p.accept(marketplaceLead()), 'hook', ['delivered']);
    await p.relay.pause('hook', { by: 'operator', reason: 'CRM maintenance until 18:00' });
    const stats = await p.relay.stats('hook');
    expect(stats.pausedReason).toBe('CRM maintenance until 18:00');
    expect(stats.remediation).toMatch(/^Paused by an operator/);
    expect(stats.lastError).toBeUndefined();
  });
});
