import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebhookReceiver, type ReceivedRequest } from '../../../test/fakes/webhook-receiver/index.js';
import { Pipeline, marketplaceLead, pipelineConfig } from '../../../test/pipeline/pipeline-harness.js';
import type { AlertPayload } from './alert.js';
import { Alerts } from './alerts.js';
import { QueueWaitMonitor } from './queue-wait-monitor.js';
import { captureLogs } from './__tests__/capture-logs.js';

const ALERT_SECRET = 'whsec_YWxlcnRzLXRlc3Qtc2lnbmluZy1zZWNyZXQ=';
const HOOK_SECRET = 'whsec_aG9vay1zaWduaW5nLXNlY3JldC1kby1ub3QtbGVhaw==';
const HEADER_SECRET = 'hdr-secret-Qw82-do-not-leak';

const payloadOf = (r: ReceivedRequest) => r.json as AlertPayload;

describe('alerts from a running pipeline', () => {
  let hook: WebhookReceiver;
  let alertsReceiver: WebhookReceiver;
  let p: Pipeline;
  let alerts: Alerts;
  let logs: ReturnType<typeof captureLogs>;

  beforeEach(async () => {
    hook = await WebhookReceiver.start();
    alertsReceiver = await WebhookReceiver.start({ signingSecret: ALERT_SECRET });
    p = new Pipeline(pipelineConfig(`
  - id: hook
    type: https
    url: "${hook.url('/hook')}"
    signingSecret: "${HOOK_SECRET}"
    headers: { X-Api-Key: "${HEADER_SECRET}" }
  - { id: idle, type: https, url: "${hook.url('/idle')}" }
  - { id: held, type: https, url: "${hook.url('/held')}" }`, `
alerts: { webhookUrl: "${alertsReceiver.url('/alerts')}", signingSecret: "${ALERT_SECRET}" }`));
    logs = captureLogs();
    alerts = new Alerts({ config: p.config, logger: logs.logger, relay: p.relay, webhook: { retryDelaysMs: [20] } });
  });

  afterEach(async () => {
    await p.close();
    await alerts.close(1000);
    await hook.stop();
    await alertsReceiver.stop();
  });

  const alertsOfType = (type: string) => alertsReceiver.requests.filter((r) => payloadOf(r)?.type === type);
  const logEvents = (type: string) => logs.lines.filter((l) => l.alert === type);

  it('source-paused (once per source across repeats) and reconciliation-gap reach the webhook and the log, ids and reasons only', async () => {
    const paused = { source: 'partner-center', sourceType: 'referrals', reason: 'the Partner Center sign-in expired (AADSTS700082)', remediation: 'Run `leadrelay login partner-center`' };
    expect(await alerts.sourcePaused(paused)).toBe(true);
    expect(await alerts.sourcePaused(paused)).toBe(false);
    alerts.reconciliationGap({ since: '2026-01-01T00:00:00.000Z', missing: 1, examples: [{ source: 'partner-center', key: 'r1', leadId: 'r1', reason: 'not accepted' }] });
    await alertsReceiver.waitFor(() => alertsOfType('source-paused').length >= 1 && alertsOfType('reconciliation-gap').length >= 1);
    await alerts.idle();
    expect(alertsOfType('source-paused')).toHaveLength(1);
    expect(payloadOf(alertsOfType('source-paused')[0]!).data).toEqual(paused);
    expect(payloadOf(alertsOfType('reconciliation-gap')[0]!).data).toMatchObject({ missing: 1, examples: [{ key: 'r1', reason: 'not accepted' }] });
    expect(logEvents('source-paused')).toHaveLength(1);
    expect(logEvents('reconciliation-gap')).toHaveLength(1);
  });

  it('alerts once when a destination is paused, signed with Standard Webhooks', async () => {
    alerts.attach(await p.startWorkers(['hook']));
    hook.setDefaultReply({ status: 401, body: { error: 'invalid api key' } });
    const ids = [await p.accept(marketplaceLead()), await p.accept(marketplaceLead()), await p.accept(marketplaceLead())];
    for (const id of ids) await p.waitForState(id, 'hook', ['paused']);
    await alertsReceiver.waitFor(() => alertsOfType('destination-paused').length >= 1);
    await alerts.idle();

    const [req, ...more] = alertsOfType('destination-paused');
    expect(more).toHaveLength(0);
    expect(req!.signatureValid).toBe(true);
    expect(alertsReceiver.verify(req!, ALERT_SECRET)).toMatchObject({ type: 'destination-paused' });
    expect(req!.headers['webhook-id']).toMatch(/^alert_/);
    expect(req!.headers['content-type']).toBe('application/json');
    const body = payloadOf(req!);
    expect(body).toEqual({
      type: 'destination-paused', timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      data: { destination: 'hook', destinationType: 'https', reason: expect.stringContaining('401'), remediation: expect.stringMatching(/resume/) },
    });
    const [event, ...moreEvents] = logEvents('destination-paused');
    expect(moreEvents).toHaveLength(0);
    expect(event).toMatchObject({ level: 50, alert: 'destination-paused', destination: 'hook', destinationType: 'https', msg: 'alert: destination-paused' });
  });

  it('says destination-recovered once, when a paused destination is resumed and delivers again', async () => {
    alerts.attach(await p.startWorkers(['hook']));
    hook.setDefaultReply({ status: 401, body: { error: 'invalid api key' } });
    const held = await p.accept(marketplaceLead());
    await p.waitForState(held, 'hook', ['paused']);
    await alertsReceiver.waitFor(() => alertsOfType('destination-paused').length >= 1);
    const monitor = new QueueWaitMonitor({ relay: p.relay, alerts, logger: logs.logger, destinations: ['hook'] });
    await monitor.check();
    expect(alertsOfType('destination-recovered')).toHaveLength(0);

    // Fixed and resumed: not yet recovered until a lead is delivered.
    hook.setDefaultReply({ status: 200 });
    await p.relay.resume('hook');
    await p.waitForState(held, 'hook', ['delivered']);
    const otherProcess = new Alerts({ config: p.config, logger: logs.logger, relay: p.relay });
    const checks = await Promise.all([monitor.check(), new QueueWaitMonitor({ relay: p.relay, alerts: otherProcess, logger: logs.logger, destinations: ['hook'] }).check()]);
    expect(checks).toHaveLength(2);
    await monitor.check();
    await alertsReceiver.waitFor(() => alertsOfType('destination-recovered').length >= 1);
    await Promise.all([alerts.idle(), otherProcess.idle()]);
    await otherProcess.close();
    const recovered = alertsOfType('destination-recovered');
    expect(recovered).toHaveLength(1);
    expect(recovered[0]!.signatureValid).toBe(true);
    const { data } = payloadOf(recovered[0]!) as AlertPayload<'destination-recovered'>;
    expect(data).toMatchObject({ destination: 'hook', destinationType: 'https', downSince: expect.stringMatching(/^\d{4}-/), lastSuccessAt: expect.stringMatching(/^\d{4}-/) });
    expect(data.downForMs).toBeGreaterThanOrEqual(0);
    expect(logs.lines.filter((l) => l.alert === 'destination-recovered')).toHaveLength(1);
  });

  it('says queue-recovered once, when a queue alerted as waiting too long is under the threshold again', async () => {
    await p.accept(marketplaceLead());
    const later = () => Date.now() + p.config.alerts.queueWaitThreshold + 60_000;
    const monitor = new QueueWaitMonitor({ relay: p.relay, alerts, logger: logs.logger, destinations: ['idle'], now: later });
    expect((await monitor.check())[0]).toMatchObject({ alerted: true });
    await monitor.check();
    expect(alertsOfType('queue-recovered')).toHaveLength(0);
    // A worker for it starts and catches up.
    await p.startWorkers(['idle']);
    const deadline = Date.now() + 10_000;
    while ((await p.relay.queue('idle').getWaitingCount()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await monitor.check();
    await monitor.check();
    await alertsReceiver.waitFor(() => alertsOfType('queue-recovered').length >= 1);
    await alerts.idle();
    expect(alertsOfType('queue-recovered')).toHaveLength(1);
    expect((payloadOf(alertsOfType('queue-recovered')[0]!) as AlertPayload<'queue-recovered'>).data).toMatchObject({ destination: 'idle', waiting: 0, thresholdMs: p.config.alerts.queueWaitThreshold });
  });

  it('alerts when a lead is dead-lettered, without customer data or secrets', async () => {
    alerts.attach(await p.startWorkers(['hook']));
    const lead = marketplaceLead({
      UserDetails: { FirstName: 'Grace', LastName: 'Hopper', Email: `grace.hopper-${Date.now()}@navy.example`, Phone: '+1 555 0100', Company: 'Navy Labs', Country: 'US' },
    });
    // Receivers often quote what they reject.
    hook.failNext(1, 422, { body: { error: `Email ${lead.customer.email} for Grace Hopper (Navy Labs) is not allowed, key ${HEADER_SECRET}` } });
    const id = await p.accept(lead);
    await p.waitForState(id, 'hook', ['dead']);
    await alertsReceiver.waitFor(() => alertsOfType('lead-dead-lettered').length >= 1);

    const req = alertsOfType('lead-dead-lettered')[0]!;
    expect(req.signatureValid).toBe(true);
    const { data } = payloadOf(req) as AlertPayload<'lead-dead-lettered'>;
    expect(data).toMatchObject({ destination: 'hook', destinationType: 'https', leadId: id, attempts: 1, kind: 'permanent', status: 422, code: expect.stringMatching(/^LR_/) });
    expect(data.error).toContain('is not allowed');
    expect(data.error).toContain('[customer data]');
    expect(data.remediation).toMatch(/replay/);
    const event = logEvents('lead-dead-lettered')[0]!;
    expect(event).toMatchObject({ level: 50, leadId: id, destination: 'hook', error: data.error });
    const everything = [req.rawBody, JSON.stringify(logs.lines)];
    for (const text of everything) {
      for (const pii of [lead.customer.email!, 'Grace', 'Hopper', 'Navy Labs', '+1 555 0100']) expect(text).not.toContain(pii);
      for (const secret of [HEADER_SECRET, HOOK_SECRET, HOOK_SECRET.slice(6), ALERT_SECRET, ALERT_SECRET.slice(6)]) expect(text).not.toContain(secret);
    }
  });

  it('alerts when the oldest waiting lead has waited longer than the threshold, once per threshold period', async () => {
    // No worker runs for `idle`: its leads just wait.
    const first = await p.accept(marketplaceLead());
    await p.accept(marketplaceLead());
    const threshold = p.config.alerts.queueWaitThreshold;
    expect(threshold).toBe(15 * 60_000);
    const later = () => Date.now() + threshold + 60_000;

    const notYet = await new QueueWaitMonitor({ relay: p.relay, alerts, logger: logs.logger, destinations: ['idle'] }).check();
    expect(notYet).toEqual([expect.objectContaining({ destination: 'idle', oldestLeadId: first, waiting: 2, overThreshold: false, alerted: false })]);

    const monitor = new QueueWaitMonitor({ relay: p.relay, alerts, logger: logs.logger, now: later });
    const findings = await monitor.check();
    expect(findings.find((f) => f.destination === 'idle')).toMatchObject({ oldestLeadId: first, waiting: 2, overThreshold: true, alerted: true });
    // Every destination matched both leads and none has a worker here: all three alert.
    await alertsReceiver.waitFor(() => alertsOfType('queue-waiting-too-long').length >= 3);
    await alerts.idle();
    const sent = alertsOfType('queue-waiting-too-long').map((r) => payloadOf(r) as AlertPayload<'queue-waiting-too-long'>);
    expect(sent.map((a) => a.data.destination).sort()).toEqual(['held', 'hook', 'idle']);
    const idle = sent.find((a) => a.data.destination === 'idle')!;
    expect(idle.data).toMatchObject({ destinationType: 'https', state: 'running', oldestLeadId: first, waiting: 2, thresholdMs: threshold });
    expect(idle.data.waitedMs).toBeGreaterThan(threshold);
    expect(Date.parse(idle.data.waitingSince)).toBeLessThanOrEqual(Date.now());
    expect(alertsOfType('queue-waiting-too-long').every((r) => r.signatureValid)).toBe(true);
    expect(logEvents('queue-waiting-too-long').find((l) => l.destination === 'idle')).toMatchObject({ level: 40, oldestLeadId: first });

    // Again in the same threshold period: no second alert, from this process or another one sharing Redis.
    expect((await monitor.check()).some((f) => f.alerted)).toBe(false);
    const otherProcess = new Alerts({ config: p.config, logger: logs.logger, relay: p.relay });
    expect((await new QueueWaitMonitor({ relay: p.relay, alerts: otherProcess, logger: logs.logger, now: later }).check()).some((f) => f.alerted)).toBe(false);
    await otherProcess.close();
    expect(alertsOfType('queue-waiting-too-long')).toHaveLength(sent.length);
  });

  it('does not count a paused destination\'s leads as waiting too long', async () => {
    await p.relay.pause('held');
    await p.accept(marketplaceLead());
    const monitor = new QueueWaitMonitor({ relay: p.relay, alerts, logger: logs.logger, now: () => Date.now() + 86_400_000, destinations: ['held', 'idle'] });
    const findings = await monitor.check();
    expect(findings.map((f) => f.destination)).toEqual(['idle']);
    await alerts.idle();
    expect(alertsOfType('queue-waiting-too-long').map((r) => (payloadOf(r) as AlertPayload<'queue-waiting-too-long'>).data.destination)).toEqual(['idle']);
  });

  it('counts a retried lead from when its retry was due, not from when it arrived', async () => {
    const id = await p.accept(marketplaceLead());
    const job = (await p.relay.queue('idle').getJob(p.relay.keys.jobId('idle', id)))!;
    const minute = 60_000;
    const t0 = job.timestamp;
    // What a worker leaves behind after a failed attempt at t0+10m whose retry was due at t0+12m.
    await job.updateData({ ...job.data, errors: [{ kind: 'transient', code: 'LR_TRANSIENT', message: 'HTTP 500', remediation: 'none', at: new Date(t0 + 10 * minute).toISOString(), attempt: 1 }] });
    await p.relay.leads.recordAttempt(id, 'idle', { state: 'retrying', attempts: 1, nextAttemptAt: new Date(t0 + 12 * minute).toISOString() });
    const at = (offset: number) => new QueueWaitMonitor({ relay: p.relay, alerts, logger: logs.logger, destinations: ['idle'], thresholdMs: 15 * minute, now: () => t0 + offset });

    const [f] = await at(20 * minute).check();
    expect(f).toMatchObject({ oldestLeadId: id, waitingSince: new Date(t0 + 12 * minute).toISOString(), waitedMs: 8 * minute, overThreshold: false, alerted: false });
    const [late] = await at(28 * minute).check();
    expect(late).toMatchObject({ oldestLeadId: id, waitedMs: 16 * minute, overThreshold: true, alerted: true });
  });
});
