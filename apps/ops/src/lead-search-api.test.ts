import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { WebhookReceiver } from '../../../test/fakes/webhook-receiver/index.js';
import { Pipeline, marketplaceLead, pipelineConfig } from '../../../test/pipeline/pipeline-harness.js';
import { buildOpsServer } from './ops-server.js';

const PASSWORD = 'ops-pw-lead-search-0123';
const headers = { authorization: `Basic ${Buffer.from(`ops:${PASSWORD}`).toString('base64')}` };

/** `GET /api/leads`: the CLI's lead search over HTTP, masked unless pii=1, bad input as problem+json. */
describe('ops API lead search', () => {
  let receiver: WebhookReceiver;
  let p: Pipeline;
  let app: FastifyInstance;
  const email = `Linus.${Date.now().toString(36)}@Contoso.example`;
  const ids: string[] = [];
  const get = (url: string) => app.inject({ method: 'GET', url, headers });

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    p = new Pipeline(pipelineConfig(`  - { id: hook, type: https, url: "${receiver.url('/hook')}" }`, `ops: { username: ops, password: "${PASSWORD}" }\ndedupe: { window: 0s }`));
    for (const offer of ['contoso.one', 'contoso.two', 'contoso.three']) {
      ids.unshift(await p.accept(marketplaceLead({ UserDetails: { FirstName: 'Linus', LastName: 'Torvalds', Email: email }, LeadSource: `AzureMarketplace-INS|${offer}` })));
    }
    ({ app } = await buildOpsServer({ config: p.config, relay: p.relay }));
  });
  afterAll(async () => {
    await app?.close();
    await p?.close();
    await receiver?.stop();
  });

  it('finds by email, paged, masked unless pii=1', async () => {
    const first = await get(`/api/leads?email=${encodeURIComponent(email.toLowerCase())}&limit=2`);
    expect(first.statusCode, first.body).toBe(200);
    const page = first.json() as { leads: { id: string; customer: { email: string } }[]; cursor?: string };
    expect(page.leads.map((l) => l.id)).toEqual(ids.slice(0, 2));
    expect(first.body).not.toContain('Torvalds');
    expect(first.body.toLowerCase()).not.toContain(email.toLowerCase());
    const rest = (await get(`/api/leads?email=${encodeURIComponent(email)}&limit=2&cursor=${page.cursor}&pii=1`)).json() as typeof page;
    expect(rest.leads.map((l) => l.id)).toEqual(ids.slice(2));
    expect(rest.leads[0]!.customer.email).toBe(email);
    expect(rest.cursor).toBeUndefined();
  });

  it('answers problem+json naming the field for bad input', async () => {
    for (const [url, field] of [['/api/leads', 'email'], ['/api/leads?since=yesterday', 'since'], ['/api/leads?since=1d&state=lost', 'state'],
      ['/api/leads?email=not-an-email', 'email'], ['/api/leads?since=1d&limit=0', 'limit'], ['/api/leads?since=1d&cursor=zz', 'cursor']] as const) {
      const r = await get(url);
      expect(r.statusCode, url).toBe(400);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect((r.json() as { errors?: { path: string }[] }).errors?.[0]?.path, url).toBe(field);
    }
    const unknown = await get('/api/leads?since=1d&destination=nope');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});
