import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { ErrorCodes } from '@leadrelay/core';
import { WebhookReceiver } from '../fakes/webhook-receiver/index.js';
import { Pipeline, marketplaceLead, pipelineConfig } from './pipeline-harness.js';

/**
 * BullMQ itself fails a job taken back from dead or stalled workers more than maxStalledCount times.
 * That dead letter must be recorded like any other: status dead with a remediation, listed, alerted.
 */
describe('a delivery BullMQ fails for stalling too often', () => {
  let receiver: WebhookReceiver;
  let p: Pipeline;
  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "${receiver.url('/hook')}", timeout: 60s }`));
  });
  afterEach(async () => {
    await p.close();
    await receiver.stop();
  });

  /** Waits until the worker is inside its call, then takes its lock away as a worker that died would lose it. */
  async function takeLockOfActiveDelivery(): Promise<void> {
    const queue = p.relay.queue('hook');
    let jobId: string | undefined;
    const deadline = Date.now() + 10_000;
    while (!jobId) {
      if (Date.now() > deadline) throw new Error('the delivery never became active');
      if (receiver.requestCount > 0) jobId = (await queue.getActive())[0]?.id;
      await new Promise((r) => setTimeout(r, 25));
    }
    const redis = new Redis(inject('redisUrl'));
    try {
      expect(await redis.del(queue.toKey(`${jobId}:lock`)), 'the lock was there to take').toBe(1);
    } finally {
      redis.disconnect();
    }
  }

  it('shows in stats as active (stalled) until the stalled check takes it back', async () => {
    await p.startWorkers(undefined, { stalledIntervalMs: 60_000 });
    receiver.delayNext(1, 60_000);
    await p.relay.accept(marketplaceLead(), { clientId: true });
    const deadline = Date.now() + 10_000;
    while ((await p.relay.stats('hook')).active === 0) {
      if (Date.now() > deadline) throw new Error('the delivery never became active');
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(await p.relay.stats('hook'), 'a delivery with its worker alive').toMatchObject({ active: 1, stalled: 0 });
    await takeLockOfActiveDelivery();
    expect(await p.relay.stats('hook'), 'the same delivery once its worker lost it').toMatchObject({ active: 1, stalled: 1 });
  });

  it('is recorded dead with LR_STALLED_LIMIT and a remediation, listed in the dead letters and announced', async () => {
    const service = await p.startWorkers(undefined, { maxStalledCount: 0, stalledIntervalMs: 300 });
    const announced: Array<{ leadId: string; destination: string }> = [];
    service.on('dead-lettered', (e) => announced.push(e));
    receiver.delayNext(1, 60_000);
    const { id } = await p.relay.accept(marketplaceLead(), { clientId: true });

    await takeLockOfActiveDelivery();

    const s = await p.waitForState(id, 'hook', ['dead'], 15_000);
    expect(s.deliveries.hook?.remediation).toMatch(/worker logs/);
    const dead = await p.relay.deadLetters({ destination: 'hook' });
    expect(dead.map((d) => d.leadId)).toEqual([id]);
    expect(JSON.stringify(dead[0])).toContain(ErrorCodes.STALLED_LIMIT);
    expect(announced).toEqual([expect.objectContaining({ leadId: id, destination: 'hook' })]);
  });
});
