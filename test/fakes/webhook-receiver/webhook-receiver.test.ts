import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { WebhookReceiver } from './index.js';

const SECRET = 'whsec_' + Buffer.from('fake-receiver-test-secret').toString('base64');

function signedPost(url: string, id: string, body: object, secret = SECRET): Promise<Response> {
  const raw = JSON.stringify(body);
  const now = new Date();
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json', 'webhook-id': id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign(id, now, raw),
    },
    body: raw,
  });
}

describe('WebhookReceiver (fake)', () => {
  let r: WebhookReceiver;
  beforeAll(async () => { r = await WebhookReceiver.start({ signingSecret: SECRET }); });
  afterAll(async () => { await r.stop(); });
  beforeEach(() => r.clear());

  it('records method, path, query, headers, raw body and JSON, and verifies signatures', async () => {
    const res = await signedPost(r.url('/in?x=1'), 'msg_1', { a: 1 });
    expect(res.status).toBe(200);
    const req = r.requests[0]!;
    expect(req).toMatchObject({ method: 'POST', path: '/in', url: '/in?x=1', query: { x: '1' }, rawBody: '{"a":1}', json: { a: 1 }, webhookId: 'msg_1', signatureValid: true, outcome: 200 });
    expect(r.verify(req, SECRET)).toEqual({ a: 1 });
    await signedPost(r.url(), 'msg_2', { a: 2 }, 'whsec_' + Buffer.from('wrong').toString('base64'));
    expect(r.requests[1]!.signatureValid).toBe(false);
  });

  it('plays queued faults in order, then the default reply', async () => {
    r.failNext(1, 429, { headers: { 'Retry-After': '3' }, body: { error: 'slow down' } }).resetNext(1).delayNext(1, 50);
    const first = await signedPost(r.url(), 'msg_a', {});
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('3');
    expect(await first.json()).toEqual({ error: 'slow down' });
    await expect(signedPost(r.url(), 'msg_a', {})).rejects.toThrow();
    expect((await signedPost(r.url(), 'msg_a', {})).status).toBe(200);
    expect((await signedPost(r.url(), 'msg_a', {})).status).toBe(200);
    expect(r.requests.map((q) => q.outcome)).toEqual([429, 'reset', 200, 200]);
    expect(r.receivedCount('msg_a')).toBe(4);
    expect(r.acceptedCount('msg_a')).toBe(2);
    expect(r.duplicateIds()).toEqual(['msg_a']);
    expect(r.pendingFaults).toBe(0);
  });

  it('counts accepted leads by webhook-id and waits for them', async () => {
    const waiting = r.waitForAccepted(3, 5_000);
    await Promise.all(['m1', 'm2', 'm3'].map((id) => signedPost(r.url(), id, { id })));
    await waiting;
    expect(r.acceptedIds().sort()).toEqual(['m1', 'm2', 'm3']);
    expect(r.lastAccepted('m2')!.json).toEqual({ id: 'm2' });
  });

  it('can reject bad signatures with 401', async () => {
    const strict = await WebhookReceiver.start({ signingSecret: SECRET, rejectInvalidSignatures: true });
    try {
      expect((await signedPost(strict.url(), 'x', {}, 'whsec_' + Buffer.from('nope').toString('base64'))).status).toBe(401);
      expect((await signedPost(strict.url(), 'y', {})).status).toBe(200);
      expect(strict.acceptedIds()).toEqual(['y']);
    } finally {
      await strict.stop();
    }
  });
});
