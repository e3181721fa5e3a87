import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebhookReceiver, type ReceivedRequest } from '../../../test/fakes/webhook-receiver/index.js';
import { Pipeline, marketplaceLead, pipelineConfig } from '../../../test/pipeline/pipeline-harness.js';
import type { AlertPayload, AlertType } from './alert.js';
import { Alerts } from './alerts.js';
import { QueueWaitMonitor } from './queue-wait-monitor.js';
import { captureLogs } from './__tests__/capture-logs.js';

const ALERT_SECRET = 'whsec_ZGVhZC1sZXR0ZXItZ3JvdXBzLXRlc3Qtc2VjcmV0';
const WINDOW_MS = 1500;

const payloadOf = (r: ReceivedRequest) => r.json as AlertPayload;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const deadLetter = (leadId: string, destination: string, code = 'LR_PAYLOAD_REJECTED') =>
  ({ leadId, destination, error: { kind: 'permanent' as const, code, message: 'rejected', remediation: 'fix, then replay' } });

/** The first dead letter of a destination is alerted at once; the rest of its window become one `leads-dead-lettered`. */
describe('grouped dead-letter alerts', () => {
  let hook: WebhookReceiver;
  let alertsReceiver: WebhookReceiver;
  let p: Pipeline;
  let logs: ReturnType<typeof captureLogs>;
  const opened: Alerts[] = [];
  const newAlerts = (windowMs = WINDOW_MS) => {
    const a = new Alerts({ config: p.config, logger: logs.logger, relay: p.relay, webhook: { retryDelaysMs: [20] }, deadLetterGroupWindowMs: windowMs });
    opened.push(a);
    return a;
  };

  beforeEach(async () => {
    hook = await WebhookReceiver.start();
    alertsReceiver = await WebhookReceiver.start({ signingSecret: ALERT_SECRET });
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "${hook.url('/hook')}" }
  - { id: other, type: https, url: "${hook.url('/other')}" }`, `
alerts: { webhookUrl: "${alertsReceiver.url('/alerts')}", signingSecret: "${ALERT_SECRET}" }`));
    logs = captureLogs();
  });

  afterEach(async () => {
    await p.close();
    await Promise.all(opened.splice(0).map((a) => a.close(1000)));
    await hook.stop();
    await alertsReceiver.stop();
  });

  const sent = <T extends AlertType>(type: T) => alertsReceiver.requests.filter((r) => payloadOf(r)?.type === type).map((r) => payloadOf(r) as AlertPayload<T>);

  it('a batch rejected by a destination: one lead-dead-lettered at once, one summary at the end of the window, ids and codes only', async () => {
    // Longer here: five real deliveries must fail inside it on a loaded machine.
    const windowMs = 3000;
    const alerts = newAlerts(windowMs);
    alerts.attach(await p.startWorkers(['hook']));
    hook.setDefaultReply({ status: 400, body: { error: 'field Company is required' } });
    const leads = Array.from({ length: 5 }, (_, i) => marketplaceLead({ UserDetails: { FirstName: 'Alan', LastName: `Turing${i}`, Email: `alan${i}-${Date.now()}@bletchley.example`, Company: 'Bletchley Park', Country: 'GB' } }));
    const started = Date.now();
    const ids: string[] = [];
    for (const lead of leads) ids.push(await p.accept(lead));
    for (const id of ids) await p.waitForState(id, 'hook', ['dead']);
    await alertsReceiver.waitFor(() => sent('lead-dead-lettered').length >= 1);
    // Inside the window: no second single alert and no summary yet.
    await sleep(200);
    expect(sent('lead-dead-lettered')).toHaveLength(1);
    expect(sent('leads-dead-lettered')).toHaveLength(0);

    await alertsReceiver.waitFor(() => sent('leads-dead-lettered').length >= 1, windowMs + 5000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(windowMs - 100);
    await alerts.idle();
    const first = sent('lead-dead-lettered')[0]!.data;
    const [summary, ...more] = sent('leads-dead-lettered');
    expect(more).toHaveLength(0);
    expect(summary!.data).toMatchObject({ destination: 'hook', destinationType: 'https', count: 4, windowMs, remediation: expect.stringMatching(/dlq replay --destination hook/) });
    expect(Object.values(summary!.data.codes)).toEqual([4]);
    expect(Object.keys(summary!.data.codes)[0]).toBe(first.code);
    expect(summary!.data.examples.map((e) => e.leadId).sort()).toEqual(ids.filter((id) => id !== first.leadId).sort());
    expect(Date.parse(summary!.data.until) - Date.parse(summary!.data.since)).toBe(windowMs);
    expect(Date.parse(summary!.data.since)).toBeGreaterThanOrEqual(started);
    expect(alertsReceiver.requests.every((r) => r.signatureValid)).toBe(true);
    expect(logs.lines.filter((l) => l.alert === 'leads-dead-lettered')).toEqual([expect.objectContaining({ level: 50, destination: 'hook', count: 4 })]);
    const everything = [...alertsReceiver.requests.map((r) => r.rawBody), JSON.stringify(logs.lines)].join('\n');
    for (const pii of ['Alan', 'Turing', 'bletchley.example', 'Bletchley Park']) expect(everything).not.toContain(pii);

    // A dead letter after the window opens a new one: alerted at once again.
    hook.setDefaultReply({ status: 400, body: { error: 'still wrong' } });
    const late = await p.accept(marketplaceLead());
    await p.waitForState(late, 'hook', ['dead']);
    await alertsReceiver.waitFor(() => sent('lead-dead-lettered').length >= 2);
    expect(sent('lead-dead-lettered')[1]!.data.leadId).toBe(late);
  });

  it('counts across processes sharing Redis, sends one summary (codes counted, at most 20 examples), and windows are per destination', async () => {
    const a = newAlerts();
    const b = newAlerts();
    expect(await a.leadDeadLettered(deadLetter('lead-0', 'hook'))).toBe('alerted');
    // Another destination has a window of its own.
    expect(await b.leadDeadLettered(deadLetter('lead-x', 'other'))).toBe('alerted');
    const outcomes: string[] = [];
    for (let i = 1; i <= 25; i++) outcomes.push(await (i % 2 ? b : a).leadDeadLettered(deadLetter(`lead-${i}`, 'hook', i <= 5 ? 'LR_AUTH' : 'LR_PAYLOAD_REJECTED')));
    expect(new Set(outcomes)).toEqual(new Set(['grouped']));
    await alertsReceiver.waitFor(() => sent('leads-dead-lettered').length >= 1, WINDOW_MS + 5000);
    // Both processes' timers fire: the second finds nothing left to send.
    await sleep(300);
    await Promise.all([a.idle(), b.idle()]);
    const summaries = sent('leads-dead-lettered');
    expect(summaries).toHaveLength(1);
    expect(summaries[0]!.data).toMatchObject({ destination: 'hook', count: 25, codes: { LR_AUTH: 5, LR_PAYLOAD_REJECTED: 20 } });
    expect(summaries[0]!.data.examples).toHaveLength(20);
    expect(summaries[0]!.data.examples[0]).toEqual({ leadId: 'lead-1', code: 'LR_AUTH' });
    expect(sent('lead-dead-lettered').map((x) => x.data.leadId).sort()).toEqual(['lead-0', 'lead-x']);
  });

  it('a window whose process stopped without sending it is sent by another worker\'s check once it has ended', async () => {
    const gone = newAlerts();
    await gone.leadDeadLettered(deadLetter('lead-0', 'hook'));
    await gone.leadDeadLettered(deadLetter('lead-1', 'hook'));
    await gone.leadDeadLettered(deadLetter('lead-2', 'hook', 'LR_TRANSIENT'));
    // Its timer dies with it (a SIGKILL, or a close without flushPending).
    await gone.close(100);
    const survivor = newAlerts();
    const monitor = new QueueWaitMonitor({ relay: p.relay, alerts: survivor, logger: logs.logger, destinations: ['hook'] });
    await monitor.check();
    expect(await survivor.flushDeadLetters('hook')).toBe(0);
    await sleep(WINDOW_MS + 100);
    expect(sent('leads-dead-lettered')).toHaveLength(0);
    await monitor.check();
    await survivor.idle();
    expect(sent('leads-dead-lettered')).toHaveLength(1);
    expect(sent('leads-dead-lettered')[0]!.data).toMatchObject({ count: 2, codes: { LR_PAYLOAD_REJECTED: 1, LR_TRANSIENT: 1 } });
    await monitor.check();
    await survivor.idle();
    expect(sent('leads-dead-lettered')).toHaveLength(1);
  });

  it('flushPending (worker shutdown) sends an open window at once; a window of 0 alerts every dead letter', async () => {
    const a = newAlerts(60_000);
    await a.leadDeadLettered(deadLetter('lead-0', 'hook'));
    await a.leadDeadLettered(deadLetter('lead-1', 'hook'));
    expect(sent('leads-dead-lettered')).toHaveLength(0);
    await a.flushPending();
    await a.idle();
    expect(sent('leads-dead-lettered').map((s) => s.data.count)).toEqual([1]);

    const each = newAlerts(0);
    expect(await each.leadDeadLettered(deadLetter('lead-5', 'other'))).toBe('alerted');
    expect(await each.leadDeadLettered(deadLetter('lead-6', 'other'))).toBe('alerted');
    await each.idle();
    expect(sent('lead-dead-lettered').filter((x) => x.data.destination === 'other')).toHaveLength(2);
  });
});
