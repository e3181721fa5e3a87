import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebhookReceiver } from '../fakes/webhook-receiver/index.js';
import { Pipeline, marketplaceLead, pipelineConfig } from './pipeline-harness.js';

/** Every delivery outcome of README: How delivery behaves through the real worker engine, the real https destination and a fake receiver. */
describe('delivery outcomes (https destination)', () => {
  let receiver: WebhookReceiver;
  let other: WebhookReceiver;
  let p: Pipeline;

  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
    other = await WebhookReceiver.start();
  });
  afterEach(async () => {
    await p?.close();
    await receiver.stop();
    await other.stop();
  });

  const setup = async (extraDest = '', extraTop = '') => {
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "${receiver.url('/hook')}", timeout: 300ms ${extraDest} }
  - { id: other, type: https, url: "${other.url('/other')}" }`, extraTop));
    await p.startWorkers();
  };

  it('delivers a lead once to every destination and records the attempt', async () => {
    await setup();
    const id = await p.accept(marketplaceLead());
    const s = await p.waitForState(id, 'hook', ['delivered']);
    await p.waitForState(id, 'other', ['delivered']);
    expect(s.deliveries.hook).toMatchObject({ state: 'delivered', attempts: 1 });
    expect(s.deliveries.hook!.deliveredAt).toBeDefined();
    expect(s.timeline.filter((t) => t.destination === 'hook')).toEqual([expect.objectContaining({ outcome: 'delivered', attempt: 1 })]);
    expect(receiver.requestCount).toBe(1);
    expect((receiver.requests[0]!.json as { UserDetails: { FirstName: string } }).UserDetails.FirstName).toBe('Ada');
  });

  it('retries 5xx, timeouts and resets with backoff, then delivers with the same webhook-id', async () => {
    await setup();
    receiver.failNext(1, 503).delayNext(1, 1000).resetNext(1);
    p.config.destinations[0]!.retry.attempts = 5;
    await p.stopWorkers();
    await p.startWorkers();
    const id = await p.accept(marketplaceLead());
    const s = await p.waitForState(id, 'hook', ['delivered']);
    expect(s.deliveries.hook!.attempts).toBe(4);
    expect(s.timeline.filter((t) => t.destination === 'hook').map((t) => t.outcome)).toEqual(['retried', 'retried', 'retried', 'delivered']);
    const ids = new Set(receiver.requests.map((r) => r.webhookId));
    expect(ids.size).toBe(1);
  });

  it('dead-letters after retry.attempts transient failures, with the error and a remediation', async () => {
    await setup();
    receiver.setDefaultReply({ status: 500 });
    const id = await p.accept(marketplaceLead());
    const s = await p.waitForState(id, 'hook', ['dead']);
    expect(s.deliveries.hook).toMatchObject({ state: 'dead', attempts: 3 });
    expect(receiver.requestCount).toBe(3);
    const dead = await p.relay.deadLetters({ destination: 'hook' });
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ leadId: id, destination: 'hook', attempts: 3 });
    expect(dead[0]!.errors).toHaveLength(3);
    expect(dead[0]!.lastError).toContain('500');
    expect(dead[0]!.remediation.length).toBeGreaterThan(10);
  });

  it('dead-letters a permanent rejection at once, and replay delivers it with fresh attempts', async () => {
    await setup();
    receiver.failNext(1, 422, { body: { error: 'Email is not allowed here' } });
    const id = await p.accept(marketplaceLead());
    const s = await p.waitForState(id, 'hook', ['dead']);
    expect(s.deliveries.hook!.attempts).toBe(1);
    expect(s.deliveries.hook!.lastError).toContain('Email is not allowed here');
    expect(s.deliveries.hook!.remediation).toMatch(/replay/);
    expect(await p.relay.replay({ leadId: id })).toBe(1);
    const after = await p.waitForState(id, 'hook', ['delivered']);
    expect(after.deliveries.hook!.attempts).toBe(1);
    expect(await p.relay.deadLetters({})).toHaveLength(0);
    expect(receiver.requestCount).toBe(2);
  });

  it('waits out 429 + Retry-After without using attempts and without slowing another destination', async () => {
    await setup();
    // attempts is 3: four 429s in a row would kill the lead if throttling used attempts.
    receiver.failNext(4, 429, { headers: { 'Retry-After': '1' } });
    const id = await p.accept(marketplaceLead());
    const throttled = await p.waitForState(id, 'hook', ['delayed']);
    expect(throttled.deliveries.hook!.nextAttemptAt).toBeDefined();
    // While hook is held back, the other destination gets its lead.
    const meanwhile = await p.waitForState(id, 'other', ['delivered']);
    expect(meanwhile.deliveries.hook!.state).not.toBe('delivered');
    const stats = await p.relay.stats('hook');
    expect(['throttled', 'running']).toContain(stats.state);
    const s = await p.waitForState(id, 'hook', ['delivered'], 20_000);
    expect(receiver.requestCount).toBe(5);
    expect(s.timeline.filter((t) => t.destination === 'hook' && t.outcome === 'throttled')).toHaveLength(4);
  });

  it('stops waiting for throttling after retry.maxThrottleWait and counts attempts again', async () => {
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "${receiver.url('/hook')}", retry: { attempts: 1, maxThrottleWait: 1s } }`));
    await p.startWorkers();
    receiver.setDefaultReply({ status: 429, headers: { 'Retry-After': '1' } });
    const id = await p.accept(marketplaceLead());
    const s = await p.waitForState(id, 'hook', ['dead'], 20_000);
    expect(s.deliveries.hook!.lastError).toContain('429');
  });

  it('pauses the destination on a configuration failure, keeps the lead, and resume delivers it', async () => {
    await setup();
    receiver.setDefaultReply({ status: 401, body: { error: 'bad key' } });
    const first = await p.accept(marketplaceLead());
    await p.waitForState(first, 'hook', ['paused']);
    const stats = await p.relay.stats('hook');
    expect(stats.state).toBe('paused');
    expect(stats.pausedReason).toContain('401');
    expect(stats.remediation).toMatch(/resume/);
    // More leads keep queueing while paused; none are sent.
    const second = await p.accept(marketplaceLead());
    await p.waitForState(second, 'other', ['delivered']);
    expect((await p.relay.status(second))!.deliveries.hook!.state).toBe('paused');
    const sentWhilePaused = receiver.requestCount;
    receiver.setDefaultReply({ status: 200 });
    await p.relay.resume('hook');
    await p.waitForState(first, 'hook', ['delivered']);
    await p.waitForState(second, 'hook', ['delivered']);
    expect(sentWhilePaused).toBe(1);
    expect(await p.relay.deadLetters({})).toHaveLength(0);
  });

  it('holds leads while an operator pauses a destination and delivers them on resume', async () => {
    await setup();
    await p.relay.pause('hook');
    const id = await p.accept(marketplaceLead());
    await p.waitForState(id, 'other', ['delivered']);
    expect((await p.relay.status(id))!.deliveries.hook!.state).toBe('paused');
    expect(receiver.requestCount).toBe(0);
    expect((await p.relay.stats('hook')).state).toBe('paused');
    await p.relay.resume('hook');
    await p.waitForState(id, 'hook', ['delivered']);
  });
});
