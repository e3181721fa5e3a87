import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime } from '@leadrelay/observability';
import { startWorker, type RunningWorker } from './index.js';
import { WebhookReceiver } from '../../../test/fakes/webhook-receiver/index.js';
import { Pipeline, marketplaceLead, pipelineConfig } from '../../../test/pipeline/pipeline-harness.js';
import type { AlertPayload } from '@leadrelay/alerts';

const ALERT_SECRET = 'whsec_d29ya2VyLXdpcmluZy10ZXN0LXNlY3JldA==';

/** `leadrelay worker` raises alerts: the worker app wires them to its deliveries. */
describe('worker alerts', () => {
  let hook: WebhookReceiver;
  let alertsReceiver: WebhookReceiver;
  let worker: RunningWorker | undefined;
  let p: Pipeline | undefined;

  afterEach(async () => {
    await worker?.stop();
    await p?.close();
    await hook?.stop();
    await alertsReceiver?.stop();
  });

  it('sends signed alerts for a paused destination and a dead-lettered lead', async () => {
    hook = await WebhookReceiver.start();
    alertsReceiver = await WebhookReceiver.start({ signingSecret: ALERT_SECRET });
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "${hook.url('/hook')}" }`, `
alerts: { webhookUrl: "${alertsReceiver.url('/alerts')}", signingSecret: "${ALERT_SECRET}" }`));
    worker = await startWorker({ config: p.config, serveMetrics: false, runtime: createRuntime({ name: 'worker', secretsFrom: p.config, level: 'silent' }) });
    const types = () => alertsReceiver.requests.map((r) => (r.json as AlertPayload).type);

    hook.failNext(1, 400, { body: { error: 'missing field' } });
    const dead = await p.accept(marketplaceLead());
    await p.waitForState(dead, 'hook', ['dead']);
    await alertsReceiver.waitFor(() => types().includes('lead-dead-lettered'));

    hook.setDefaultReply({ status: 403, body: { error: 'forbidden' } });
    const held = await p.accept(marketplaceLead());
    await p.waitForState(held, 'hook', ['paused']);
    await alertsReceiver.waitFor(() => types().includes('destination-paused'));

    expect(alertsReceiver.requests.every((r) => r.signatureValid)).toBe(true);
    const deadAlert = alertsReceiver.requests.find((r) => (r.json as AlertPayload).type === 'lead-dead-lettered')!.json as AlertPayload<'lead-dead-lettered'>;
    expect(deadAlert.data).toMatchObject({ leadId: dead, destination: 'hook', status: 400 });
  });

  it('groups a rejected batch: one lead-dead-lettered at once, the rest in one leads-dead-lettered sent at the latest when the worker stops', async () => {
    hook = await WebhookReceiver.start();
    alertsReceiver = await WebhookReceiver.start({ signingSecret: ALERT_SECRET });
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "${hook.url('/hook')}" }`, `
alerts: { webhookUrl: "${alertsReceiver.url('/alerts')}", signingSecret: "${ALERT_SECRET}" }`));
    worker = await startWorker({ config: p.config, serveMetrics: false, runtime: createRuntime({ name: 'worker', secretsFrom: p.config, level: 'silent' }) });
    const ofType = (type: string) => alertsReceiver.requests.map((r) => r.json as AlertPayload).filter((a) => a.type === type);

    hook.setDefaultReply({ status: 400, body: { error: 'missing field' } });
    const ids = [await p.accept(marketplaceLead()), await p.accept(marketplaceLead()), await p.accept(marketplaceLead())];
    for (const id of ids) await p.waitForState(id, 'hook', ['dead']);
    await alertsReceiver.waitFor(() => ofType('lead-dead-lettered').length >= 1);
    // A lead shows dead a moment before its dead-lettered event: wait until both later ones are counted in Redis.
    const relay = worker.service.relay;
    const counted = async () => {
      const [start] = await relay.redis.zrange(relay.keys.alert('hook', 'dead-letters:pending'), 0, 0);
      return start ? Number(await relay.redis.hget(relay.keys.alert('hook', `dead-letters:${start}`), 'count')) : 0;
    };
    for (const deadline = Date.now() + 5000; (await counted()) < 2 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 20));
    // The 60 s window is still open: the summary waits for its end, or for the shutdown.
    expect(ofType('leads-dead-lettered')).toHaveLength(0);
    await worker.stop();
    worker = undefined;
    expect(ofType('lead-dead-lettered')).toHaveLength(1);
    const [summary, ...more] = ofType('leads-dead-lettered') as AlertPayload<'leads-dead-lettered'>[];
    expect(more).toHaveLength(0);
    expect(summary!.data).toMatchObject({ destination: 'hook', count: 2, windowMs: 60_000 });
    const first = (ofType('lead-dead-lettered')[0] as AlertPayload<'lead-dead-lettered'>).data.leadId;
    expect(summary!.data.examples.map((e) => e.leadId).sort()).toEqual(ids.filter((id) => id !== first).sort());
  });
});
