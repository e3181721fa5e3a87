import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LeadRelayMetrics, silentLogger } from '@leadrelay/observability';
import { Relay } from '@leadrelay/queue';
import { canonical, intakeConfig, jobCounts, KEY_ONE, microsoftJson, postLead } from '../test/intake-fixture.js';
import { buildIntakeServer } from './index.js';

let app: FastifyInstance;
let relay: Relay;

beforeAll(async () => {
  const config = intakeConfig(inject('redisUrl'), { mergeIdentity: true });
  relay = new Relay(config);
  app = buildIntakeServer({ config, logger: silentLogger, metrics: new LeadRelayMetrics({ defaultMetrics: false }) });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await relay?.close();
});

describe('POST /v1/leads: the same customer action arriving again', () => {
  it("is 200 duplicate of the first lead (mergedFrom: its own id), queues nothing, and the first lead's status lists both arrivals", async () => {
    const first = await postLead(app, microsoftJson({ description: 'Contact me, from the marketplace' }), { url: '/v1/leads?offer=contoso.widget' });
    expect(first.statusCode, first.body).toBe(202);
    const before = await jobCounts(relay);
    // The same person, offer and action again, with other words and its own id (another system relaying it).
    const again = await postLead(app, canonical({ id: 'crm-sync-9', leadSource: 'AzureMarketplace-INS|contoso.widget', customer: { email: 'SOMEONE@contoso.com' }, description: 'relayed again' }));
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json()).toEqual({ id: first.json().id, duplicate: true, destinations: ['all', 'ins-only', 'contoso'], mergedFrom: 'crm-sync-9' });
    expect(await jobCounts(relay)).toEqual(before);
    const status = await app.inject({ method: 'GET', url: `/v1/leads/${first.json().id}`, headers: { authorization: `Bearer ${KEY_ONE}` } });
    expect(status.json().seenBy).toEqual([
      { leadId: first.json().id, origin: 'webhook', at: expect.any(String) },
      { leadId: 'crm-sync-9', origin: 'webhook', at: expect.any(String) },
    ]);
  });

  it('another action of the same customer is a lead of its own (dedupe.customer is off by default)', async () => {
    const res = await postLead(app, microsoftJson({ actionCode: 'Create', description: 'Create' }), { url: '/v1/leads?offer=contoso.widget' });
    expect(res.statusCode, res.body).toBe(202);
  });
});
