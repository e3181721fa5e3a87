import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebhookReceiver, type ReceivedRequest } from '../../../test/fakes/webhook-receiver/index.js';
import { Pipeline, marketplaceLead, pipelineConfig } from '../../../test/pipeline/pipeline-harness.js';
import type { AlertPayload, AlertType } from './alert.js';
import { Alerts } from './alerts.js';
import { QueueWaitMonitor } from './queue-wait-monitor.js';
import { captureLogs } from './__tests__/capture-logs.js';

const ALERT_SECRET = 'whsec_ZGVzdGluYXRpb24tc3RhdGUtYWxlcnRzLXNlY3JldA==';
const HEADER_SECRET = 'hdr-secret-Zt41-do-not-leak';

const payloadOf = (r: ReceivedRequest) => r.json as AlertPayload;

/** destination-failing, destination-resumed and destination-recovered, read by the QueueWaitMonitor from each destination's state. */
describe('destination state alerts', () => {
  let hook: WebhookReceiver;
  let alertsReceiver: WebhookReceiver;
  let p: Pipeline;
  let alerts: Alerts;
  let other: Alerts;
  let logs: ReturnType<typeof captureLogs>;

  beforeEach(async () => {
    hook = await WebhookReceiver.start();
    alertsReceiver = await WebhookReceiver.start({ signingSecret: ALERT_SECRET });
    p = new Pipeline(pipelineConfig(`
  - id: hook
    type: https
    url: "${hook.url('/hook')}"
    headers: { X-Api-Key: "${HEADER_SECRET}" }`, `
alerts: { webhookUrl: "${alertsReceiver.url('/alerts')}", signingSecret: "${ALERT_SECRET}" }`));
    logs = captureLogs();
    alerts = new Alerts({ config: p.config, logger: logs.logger, relay: p.relay, webhook: { retryDelaysMs: [20] } });
    // A second worker process sharing Redis: once per episode means once across both.
    other = new Alerts({ config: p.config, logger: logs.logger, relay: p.relay, webhook: { retryDelaysMs: [20] } });
  });

  afterEach(async () => {
    await p.close();
    await alerts.close(1000);
    await other.close(1000);
    await hook.stop();
    await alertsReceiver.stop();
  });

  const sent = <T extends AlertType>(type: T) => alertsReceiver.requests.filter((r) => payloadOf(r)?.type === type).map((r) => payloadOf(r) as AlertPayload<T>);
  const monitors = () => [alerts, other].map((a) => new QueueWaitMonitor({ relay: p.relay, alerts: a, logger: logs.logger, destinations: ['hook'] }));
  const checkBoth = async () => { const [a, b] = monitors(); await Promise.all([a!.check(), b!.check()]); };
  const settle = async () => { await Promise.all([alerts.idle(), other.idle()]); };

  it('destination-failing once when most recent attempts fail (not paused), destination-recovered after: failing once it runs again', async () => {
    await p.startWorkers(['hook']);
    const lead = marketplaceLead({
      UserDetails: { FirstName: 'Katherine', LastName: 'Johnson', Email: `katherine-${Date.now()}@nasa.example`, Company: 'Langley Research', Country: 'US' },
    });
    // A server error that quotes the lead: retried (3 attempts in this config), then dead-lettered.
    hook.setDefaultReply({ status: 503, body: { error: `upstream down while saving ${lead.customer.email} (Katherine Johnson), key ${HEADER_SECRET}` } });
    const id = await p.accept(lead);
    await p.waitForState(id, 'hook', ['dead']);
    expect((await p.relay.stats('hook')).state).toBe('failing');

    await checkBoth();
    await checkBoth();
    await alertsReceiver.waitFor(() => sent('destination-failing').length >= 1);
    await settle();
    const failing = sent('destination-failing');
    expect(failing).toHaveLength(1);
    expect(failing[0]!.data).toMatchObject({
      destination: 'hook', destinationType: 'https', recentFailures: 3, recentAttempts: 3, failureRatio: 1,
      lastError: expect.stringContaining('503'), lastErrorCode: expect.stringMatching(/^LR_/), remediation: expect.stringMatching(/retr/),
    });
    expect(failing[0]!.data.lastError).toContain('[customer data]');
    expect(logs.lines.filter((l) => l.alert === 'destination-failing')).toEqual([expect.objectContaining({ level: 40, destination: 'hook' })]);
    const everything = [...alertsReceiver.requests.map((r) => r.rawBody), JSON.stringify(logs.lines)].join('\n');
    for (const pii of [lead.customer.email!, 'Katherine', 'Johnson', 'Langley Research', HEADER_SECRET]) expect(everything).not.toContain(pii);

    // Fixed: one delivery is not yet enough (3 of the last 4 attempts failed: still failing), three are.
    hook.setDefaultReply({ status: 200 });
    await p.waitForState(await p.accept(marketplaceLead()), 'hook', ['delivered']);
    await checkBoth();
    expect((await p.relay.stats('hook')).state).toBe('failing');
    for (let i = 0; i < 2; i++) await p.waitForState(await p.accept(marketplaceLead()), 'hook', ['delivered']);
    expect((await p.relay.stats('hook')).state).toBe('running');
    await checkBoth();
    await checkBoth();
    await alertsReceiver.waitFor(() => sent('destination-recovered').length >= 1);
    await settle();
    const recovered = sent('destination-recovered');
    expect(recovered).toHaveLength(1);
    expect(recovered[0]!.data).toMatchObject({ destination: 'hook', after: 'failing', downSince: expect.stringMatching(/^\d{4}-/), lastSuccessAt: expect.stringMatching(/^\d{4}-/) });
    expect(recovered[0]!.data.downSince <= recovered[0]!.data.lastSuccessAt).toBe(true);
    expect(sent('destination-failing')).toHaveLength(1);
    expect(sent('destination-resumed')).toHaveLength(0);
  });

  it('destination-resumed once per pause as soon as an operator resumes it, before any delivery; destination-recovered (after: paused) on the first delivery', async () => {
    alerts.attach(await p.startWorkers(['hook']));
    hook.setDefaultReply({ status: 401, body: { error: 'invalid api key' } });
    const held = await p.accept(marketplaceLead());
    await p.waitForState(held, 'hook', ['paused']);
    await alertsReceiver.waitFor(() => sent('destination-paused').length >= 1);
    const pausedAt = (await p.relay.health('hook')).pause!.at;
    await checkBoth();
    expect(sent('destination-resumed')).toHaveLength(0);

    // No worker runs now, so nothing can be delivered: the resume alone is said.
    await p.stopWorkers();
    await p.relay.resume('hook');
    await checkBoth();
    await checkBoth();
    await alertsReceiver.waitFor(() => sent('destination-resumed').length >= 1);
    await settle();
    const resumed = sent('destination-resumed');
    expect(resumed).toHaveLength(1);
    expect(resumed[0]!.data).toEqual({ destination: 'hook', destinationType: 'https', pausedSince: pausedAt, resumedAt: expect.stringMatching(/^\d{4}-/), how: 'operator' });
    expect(Date.parse(resumed[0]!.data.resumedAt)).toBeGreaterThanOrEqual(Date.parse(pausedAt));
    expect(sent('destination-recovered')).toHaveLength(0);
    expect(logs.lines.filter((l) => l.alert === 'destination-resumed')).toEqual([expect.objectContaining({ level: 30, destination: 'hook', how: 'operator' })]);

    hook.setDefaultReply({ status: 200 });
    await p.startWorkers(['hook']);
    await p.waitForState(held, 'hook', ['delivered']);
    await checkBoth();
    await checkBoth();
    await alertsReceiver.waitFor(() => sent('destination-recovered').length >= 1);
    await settle();
    expect(sent('destination-recovered')).toHaveLength(1);
    expect(sent('destination-recovered')[0]!.data).toMatchObject({ destination: 'hook', after: 'paused', downSince: expect.any(String) });
    expect(sent('destination-resumed')).toHaveLength(1);
    // A 401 is one failed attempt among the ones since: never a failing episode of its own.
    expect(sent('destination-failing')).toHaveLength(0);
  });

  it('destination-resumed says how when a worker with a changed configuration lifted the pause', async () => {
    alerts.attach(await p.startWorkers(['hook']));
    hook.setDefaultReply({ status: 401, body: { error: 'invalid api key' } });
    const held = await p.accept(marketplaceLead());
    await p.waitForState(held, 'hook', ['paused']);
    await alertsReceiver.waitFor(() => sent('destination-paused').length >= 1);
    await p.stopWorkers();
    // What a worker whose destination settings changed does when it starts (DestinationWorker).
    expect(await p.relay.control('hook').resumeForConfiguration('a-changed-configuration')).toBeTruthy();
    await checkBoth();
    await alertsReceiver.waitFor(() => sent('destination-resumed').length >= 1);
    await settle();
    const resumed = sent('destination-resumed');
    expect(resumed).toHaveLength(1);
    expect(resumed[0]!.data).toMatchObject({ destination: 'hook', how: 'configuration-change' });
    const superseded = Object.entries(await p.relay.redis.hgetall(p.relay.keys.destination('hook'))).find(([k]) => k.startsWith('superseded:'))![1];
    expect(resumed[0]!.data.resumedAt).toBe(superseded);
  });

  it('a paused destination is neither resumed nor failing while its pause lasts', async () => {
    alerts.attach(await p.startWorkers(['hook']));
    hook.setDefaultReply({ status: 503, body: { error: 'down' } });
    const id = await p.accept(marketplaceLead());
    await p.waitForState(id, 'hook', ['dead']);
    // Failing, then paused by an operator before a check saw it: the pause wins.
    await p.relay.pause('hook');
    await checkBoth();
    await settle();
    expect(sent('destination-failing')).toHaveLength(0);
    expect(sent('destination-resumed')).toHaveLength(0);
  });
});
