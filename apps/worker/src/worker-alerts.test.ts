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
});
