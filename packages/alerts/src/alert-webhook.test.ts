import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebhookReceiver } from '../../../test/fakes/webhook-receiver/index.js';
import { freePort } from '../../../test/helpers/index.js';
import type { AlertPayload } from './alert.js';
import { AlertWebhook } from './alert-webhook.js';
import { captureLogs } from './__tests__/capture-logs.js';

const SECRET = 'whsec_d2ViaG9vay1zZW5kZXItdGVzdC1zZWNyZXQ=';

const payload = (n = 1): AlertPayload<'destination-paused'> => ({
  type: 'destination-paused', timestamp: new Date().toISOString(),
  data: { destination: `d${n}`, destinationType: 'https', reason: 'HTTP 401', remediation: 'fix the key, then resume' },
});

describe('AlertWebhook', () => {
  let receiver: WebhookReceiver;
  let sender: AlertWebhook | undefined;
  const logs = captureLogs();

  beforeEach(async () => {
    receiver = await WebhookReceiver.start({ signingSecret: SECRET });
  });
  afterEach(async () => {
    await sender?.close(500);
    sender = undefined;
    await receiver.stop();
  });

  const make = (extra: Partial<ConstructorParameters<typeof AlertWebhook>[0]> = {}) =>
    (sender = new AlertWebhook({ url: receiver.url('/alerts'), signingSecret: SECRET, logger: logs.logger, retryDelaysMs: [10, 20], ...extra }));

  it('POSTs the alert JSON with a valid Standard Webhooks signature', async () => {
    make().send(payload());
    await sender!.idle();
    expect(receiver.requests).toHaveLength(1);
    const req = receiver.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/alerts');
    expect(req.signatureValid).toBe(true);
    expect(receiver.verify(req, SECRET)).toEqual(req.json);
    expect(req.json).toMatchObject({ type: 'destination-paused', data: { destination: 'd1' } });
    expect(sender!.counts).toEqual({ sent: 1, failed: 0, dropped: 0 });
  });

  it('retries 5xx and network failures with the same webhook-id and a fresh signature each time', async () => {
    receiver.failNext(1, 503).resetNext(1);
    make().send(payload());
    await sender!.idle();
    expect(receiver.requests).toHaveLength(3);
    expect(new Set(receiver.requests.map((r) => r.webhookId)).size).toBe(1);
    expect(receiver.requests.every((r) => r.signatureValid)).toBe(true);
    expect(receiver.requests.map((r) => r.outcome)).toEqual([503, 'reset', 200]);
    expect(sender!.counts).toMatchObject({ sent: 1, failed: 0 });
  });

  it('gives up after the configured attempts, and at once on an answer that will not change (4xx)', async () => {
    receiver.setDefaultReply({ status: 500 });
    make({ attempts: 3 }).send(payload(1));
    await sender!.idle();
    expect(receiver.requests).toHaveLength(3);
    receiver.clear();
    receiver.setDefaultReply({ status: 400 });
    sender!.send(payload(2));
    await sender!.idle();
    expect(receiver.requests).toHaveLength(1);
    expect(sender!.counts).toMatchObject({ sent: 0, failed: 2 });
    expect(logs.lines.some((l) => l.msg === 'alert webhook failed; giving up (the alert is in the log)' && l.status === 400)).toBe(true);
  });

  it('gives up on an unreachable receiver without throwing, and never logs the URL path or query', async () => {
    const port = await freePort();
    sender = new AlertWebhook({ url: `http://127.0.0.1:${port}/alerts?token=url-token-secret-123`, logger: logs.logger, attempts: 2, retryDelaysMs: [5] });
    sender.send(payload());
    await sender.idle();
    expect(sender.counts).toMatchObject({ sent: 0, failed: 1 });
    const lines = JSON.stringify(logs.lines);
    expect(lines).toContain('ECONNREFUSED');
    expect(lines).not.toContain('url-token-secret-123');
  });

  it('only queues on send: a slow receiver holds no caller', async () => {
    receiver.delayNext(1, 300);
    make();
    sender!.send(payload());
    // send() has returned; the request is at most under way, not answered.
    expect(sender!.counts.sent).toBe(0);
    await receiver.waitForRequests(1);
    await sender!.idle();
    expect(sender!.counts.sent).toBe(1);
  });

  it('drops the oldest alerts beyond maxPending, and logs each drop', async () => {
    receiver.delayNext(1, 100);
    make({ concurrency: 1, maxPending: 2 });
    for (let i = 1; i <= 5; i++) sender!.send(payload(i));
    await sender!.idle();
    // #1 went out at once; #2 and #3 were pushed out by #4 and #5.
    expect(receiver.requests.map((r) => (r.json as AlertPayload<'destination-paused'>).data.destination)).toEqual(['d1', 'd4', 'd5']);
    expect(sender!.counts).toEqual({ sent: 3, failed: 0, dropped: 2 });
  });
});
