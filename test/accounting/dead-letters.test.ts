import { afterEach, describe, expect, it } from 'vitest';
import { WebhookReceiver } from '../fakes/webhook-receiver/index.js';
import { Pipeline, marketplaceLead, pipelineConfig } from '../pipeline/pipeline-harness.js';

/** Dead letters: what `dlq list` reads and what `dlq replay` leaves behind, on real BullMQ queues. */
describe('dead letters', () => {
  let p: Pipeline | undefined;
  let receiver: WebhookReceiver | undefined;
  afterEach(async () => {
    await p?.close();
    await receiver?.stop();
  });

  it('keep the first and the last errors, and no stack trace in the job', async () => {
    receiver = await WebhookReceiver.start({ defaultReply: { status: 503 } });
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "${receiver.url('/hook')}", retry: { attempts: 24, initialDelay: 1ms, maxDelay: 2ms } }`));
    const id = await p.accept(marketplaceLead());
    await p.startWorkers();
    await p.waitForState(id, 'hook', ['dead'], 30_000);
    const [dl] = await p.relay.deadLetters({ destination: 'hook' });
    expect(dl!.attempts).toBe(24);
    expect(dl!.errors).toHaveLength(20);
    expect(dl!.errors[0]!.attempt).toBe(1);
    expect(dl!.errors.at(-1)!.attempt).toBe(24);
    expect(dl!.errors[1]!.attempt).toBe(6);
    const stored = await p.relay.redis.hget(p.relay.keys.queueKey('hook', p.relay.keys.jobId('hook', id)), 'stacktrace');
    expect(JSON.parse(stored ?? '[]')).toEqual([]);
  }, 60_000);

  it('dlq list reads every dead letter, not only the newest 10,000', async () => {
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "https://hook.example/leads" }`));
    // 10,050 dead jobs written the way BullMQ keeps them (job hash + failed set), quicker than failing each.
    const base = `${p.relay.keys.bullPrefix('hook')}:hook`;
    const lead = marketplaceLead();
    for (let i = 0; i < 10_050; i += 1000) {
      const m = p.relay.redis.pipeline();
      for (let j = i; j < Math.min(i + 1000, 10_050); j++) {
        const jobId = p.relay.keys.jobId('hook', `lead-${j}`);
        m.hset(`${base}:${jobId}`, 'name', 'deliver', 'data', JSON.stringify({ lead: { ...lead, id: `lead-${j}` }, errors: [{ message: 'HTTP 400', at: '', attempt: 1 }] }),
          'opts', '{}', 'timestamp', String(1_700_000_000_000 + j), 'finishedOn', String(1_700_000_000_000 + j), 'attemptsMade', '1', 'failedReason', 'HTTP 400');
        m.zadd(`${base}:failed`, 1_700_000_000_000 + j, jobId);
      }
      await m.exec();
    }
    const all = await p.relay.deadLetters({ destination: 'hook' });
    expect(all).toHaveLength(10_050);
    expect(all[0]!.leadId).toBe('lead-10049');
    expect(all.at(-1)!.leadId).toBe('lead-0');
    expect(all[0]).toMatchObject({ destination: 'hook', attempts: 1, lastError: 'HTTP 400' });
    expect(await p.relay.deadLetters({ destination: 'hook', leadId: 'lead-7' })).toHaveLength(1);
    expect(await p.relay.deadLetters({ destination: 'hook', leadId: 'nope' })).toHaveLength(0);
  }, 60_000);

  it('replay never writes queued over a re-failure that came first', async () => {
    receiver = await WebhookReceiver.start({ defaultReply: { status: 400, body: { error: 'rejected' } } });
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "${receiver.url('/hook')}", concurrency: 20 }`));
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await p.accept(marketplaceLead()));
    await p.startWorkers();
    for (const id of ids) await p.waitForState(id, 'hook', ['dead']);
    const before = receiver.requestCount;
    expect(await p.relay.replay({ destination: 'hook' })).toBe(40);
    await receiver.waitFor((r) => r.requestCount >= before + 40, 20_000);
    await p.waitIdle();
    // Every replayed delivery failed again: its record says dead, like its job, for every one of them.
    for (let i = 0; i < 50 && (await p.relay.deadLetters({ destination: 'hook' })).length < 40; i++) await new Promise((r) => setTimeout(r, 100));
    const states = await Promise.all(ids.map(async (id) => (await p!.relay.status(id))!.deliveries.hook!.state));
    expect(states.filter((s) => s !== 'dead')).toEqual([]);
  }, 60_000);
});
