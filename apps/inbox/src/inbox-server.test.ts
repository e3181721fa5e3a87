import { Writable } from 'node:stream';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildInbox, startInbox, type InboxOptions } from './inbox-server.js';
import type { ReceivedLead } from './received-leads.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const marketplaceLead = {
  UserDetails: { FirstName: 'Jane', LastName: 'Doe', Email: 'jane.doe@fabrikam.example', Phone: '', Country: 'US', Company: 'Fabrikam', Title: '' },
  LeadSource: 'AzureMarketplace', ActionCode: 'INS', OfferTitle: 'Contoso Analytics', Description: '',
};

/** Log lines the inbox writes, parsed. */
class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  readonly raw: string[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      this.raw.push(line);
      this.lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    done();
  }
}

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function inbox(options: InboxOptions = {}): { app: FastifyInstance; logs: LogCapture } {
  const logs = new LogCapture();
  app = buildInbox({ logger: { level: 'info', stream: logs }, ...options });
  return { app, logs };
}

/** Headers a Standard Webhooks sender puts on `body`, signed with `secret` at `at`. */
function signed(body: string, id: string, secret = SECRET, at = new Date()): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}

const list = async (a: FastifyInstance) => (await a.inject({ method: 'GET', url: '/' })).json() as { received: number; kept: number; leads: ReceivedLead[] };

describe('inbox without a signing secret', () => {
  it('accepts JSON and form posts on any path and lists them newest first', async () => {
    const { app } = inbox();
    const json = await app.inject({ method: 'POST', url: '/leads', payload: marketplaceLead });
    expect(json.statusCode).toBe(200);
    expect(json.json()).toEqual({ received: true, seq: 1, duplicate: false });
    const form = await app.inject({
      method: 'POST', url: '/hooks/salesforce?code=secret-key-in-url', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'first_name=Jane&last_name=Doe&lead_source=SPZA-PLT%7Ccontoso.app',
    });
    expect(form.statusCode).toBe(200);
    const text = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'text/plain' }, payload: 'not json' });
    expect(text.statusCode).toBe(200);

    const got = await list(app);
    expect(got.received).toBe(3);
    expect(got.leads.map((l) => [l.seq, l.path, l.verified])).toEqual([[3, '/', false], [2, '/hooks/salesforce', false], [1, '/leads', false]]);
    expect(got.leads[2]!.body).toEqual(marketplaceLead);
    expect(got.leads[1]!.body).toEqual({ first_name: 'Jane', last_name: 'Doe', lead_source: 'SPZA-PLT|contoso.app' });
    expect(got.leads[0]!.body).toBe('not json');
    // A key carried in the query string is neither listed nor logged.
    expect(JSON.stringify(got)).not.toContain('secret-key-in-url');
  });

  it('keeps only the last `capacity` leads but counts them all', async () => {
    const { app } = inbox({ capacity: 3 });
    for (let i = 1; i <= 5; i++) await app.inject({ method: 'POST', url: '/leads', payload: { id: `lead-${i}` } });
    const got = await list(app);
    expect(got.received).toBe(5);
    expect(got.kept).toBe(3);
    expect(got.leads.map((l) => (l.body as { id: string }).id)).toEqual(['lead-5', 'lead-4', 'lead-3']);
  });

  it('marks a repeated webhook-id as a duplicate (an at-least-once retry)', async () => {
    const { app } = inbox();
    const post = () => app.inject({ method: 'POST', url: '/leads', headers: { 'webhook-id': 'msg_lead-1_inbox' }, payload: { id: 'lead-1' } });
    expect((await post()).json()).toMatchObject({ duplicate: false });
    expect((await post()).json()).toMatchObject({ duplicate: true });
  });

  it('serves /healthz and clears on DELETE /', async () => {
    const { app } = inbox();
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    await app.inject({ method: 'POST', url: '/x', payload: {} });
    expect((await app.inject({ method: 'DELETE', url: '/' })).statusCode).toBe(204);
    expect(await list(app)).toEqual({ received: 0, kept: 0, leads: [] });
  });

  it('logs one JSON line per lead with what identifies it, and no personal data', async () => {
    const { app, logs } = inbox();
    await app.inject({ method: 'POST', url: '/leads', headers: { 'webhook-id': 'msg_1' }, payload: marketplaceLead });
    await app.inject({ method: 'GET', url: '/' });
    await app.inject({ method: 'GET', url: '/healthz' });
    const received = logs.lines.filter((l) => l.msg === 'lead received');
    expect(received).toHaveLength(1);
    expect(logs.lines).toHaveLength(1); // no per-request lines besides it
    expect(received[0]).toMatchObject({ level: 30, path: '/leads', webhookId: 'msg_1', verified: false, duplicate: false, LeadSource: 'AzureMarketplace', ActionCode: 'INS' });
    expect(logs.raw.join('\n')).not.toContain('jane.doe@fabrikam.example');
  });
});

describe('inbox with a signing secret', () => {
  it('accepts a request signed with the secret and records it as verified', async () => {
    const { app } = inbox({ signingSecret: SECRET });
    const body = JSON.stringify(marketplaceLead);
    const res = await app.inject({ method: 'POST', url: '/leads', headers: signed(body, 'msg_abc'), payload: body });
    expect(res.statusCode).toBe(200);
    const [lead] = (await list(app)).leads;
    expect(lead).toMatchObject({ webhookId: 'msg_abc', verified: true, body: marketplaceLead });
  });

  it('rejects with 401, and keeps nothing, when the signature is missing, wrong, stale or for another body', async () => {
    const { app, logs } = inbox({ signingSecret: SECRET });
    const body = JSON.stringify(marketplaceLead);
    const cases: [string, Record<string, string>, string][] = [
      ['no signature headers', { 'content-type': 'application/json' }, body],
      ['another secret', signed(body, 'msg_1', 'whsec_' + Buffer.from('another secret entirely').toString('base64')), body],
      ['ten minutes old', signed(body, 'msg_1', SECRET, new Date(Date.now() - 600_000)), body],
      ['tampered body', signed(body, 'msg_1'), body.replace('Jane', 'Joan')],
      ['signature for another id', { ...signed(body, 'msg_1'), 'webhook-id': 'msg_2' }, body],
    ];
    for (const [what, headers, payload] of cases) {
      const res = await app.inject({ method: 'POST', url: '/leads', headers, payload });
      expect(res.statusCode, what).toBe(401);
      expect(res.json(), what).toMatchObject({ error: 'invalid signature' });
    }
    expect((await list(app)).received).toBe(0);
    expect(logs.lines.filter((l) => l.msg === 'rejected: bad signature')).toHaveLength(cases.length);
    // The same probes as every app; /metrics counts what it refused and received.
    const good = await app.inject({ method: 'POST', url: '/leads', headers: signed(body, 'msg_ok'), payload: body });
    expect(good.statusCode).toBe(200);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(new RegExp(`^leadrelay_inbox_rejected_total ${cases.length}$`, 'm'));
    expect(metrics).toMatch(/^leadrelay_inbox_leads_received_total\{verified="true"\} 1$/m);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready', checks: { config: 'ok' } });
    expect(logs.raw.join('\n')).not.toContain(SECRET.slice('whsec_'.length));
  });

  it('refuses a secret that is not whsec_ + base64 without echoing it', () => {
    expect(() => buildInbox({ signingSecret: 'whsec_%%%not-base64%%%' })).toThrow(/must be a Standard Webhooks secret/);
    try {
      buildInbox({ signingSecret: 'whsec_%%%not-base64%%%' });
    } catch (e) {
      expect((e as Error).message).not.toContain('not-base64');
    }
  });
});

describe('startInbox', () => {
  it('listens on INBOX_PORT and verifies with INBOX_SIGNING_SECRET', async () => {
    const started = await startInbox({ INBOX_PORT: '0', INBOX_HOST: '127.0.0.1', INBOX_SIGNING_SECRET: SECRET }, { logger: false });
    app = started.app;
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    const body = JSON.stringify({ id: 'lead-1' });
    expect((await fetch(`${url}/leads`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })).status).toBe(401);
    expect((await fetch(`${url}/leads`, { method: 'POST', body, headers: signed(body, 'msg_1') })).status).toBe(200);
  });

  it('refuses a port that is not a number', async () => {
    await expect(startInbox({ INBOX_PORT: 'eighty' }, { logger: false })).rejects.toThrow("INBOX_PORT must be a port number (got 'eighty')");
  });
});
