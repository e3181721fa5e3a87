import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { ThrottledError, type Lead } from '@leadrelay/core';
import { silentLogger } from '@leadrelay/observability';
import { RedisRollingQuota, createRedisConnection, waitUntilConnected, type RedisClient } from '@leadrelay/queue';
import { FakeSalesforce } from '../../../../test/fakes/salesforce/index.js';
import { uniquePrefix } from '../../../../test/helpers/index.js';
import type { DestinationContext } from '../destination.js';
import { salesforceSettings } from './settings.js';
import { SalesforceWebToLeadClient } from './salesforce-web-to-lead-client.js';

const DAY = 24 * 60 * 60_000;
const lead: Lead = {
  id: 'lead-1', source: 'AzureMarketplace', action: 'INS', offer: 'contoso.widget', customer: { lastName: 'Doe', company: 'Contoso' },
  createdAt: '2024-05-01T10:00:00.000Z', testLead: false,
};

let fake: FakeSalesforce;
let redis: RedisClient;
let clock = Date.parse('2024-05-01T12:00:00Z');
const prefix = uniquePrefix('sfq');

/** What a worker process gets: the destination's quota in Redis, shared with every other worker. */
function workerCtx(): DestinationContext {
  return {
    logger: silentLogger,
    placeholder: '[not provided]',
    rollingQuota: (name, limit, windowMs) => new RedisRollingQuota(redis, `${prefix}:quota:sf:${name}`, limit, windowMs, () => clock),
  };
}

beforeAll(async () => {
  fake = await FakeSalesforce.start();
  redis = createRedisConnection({ url: inject('redisUrl') }, 'fail-fast');
  await waitUntilConnected(redis);
});
afterAll(async () => {
  await redis.del(`${prefix}:quota:sf:web-to-lead`);
  redis.disconnect();
  await fake.close();
});

it('with the Redis quota, two workers share dailyLimit 3: the 4th lead waits until the oldest use is 24 h old', async () => {
  const settings = { ...salesforceSettings.parse({ mode: 'web-to-lead', oid: fake.orgId, url: fake.webToLeadUrl, dailyLimit: 3 }), id: 'sf', type: 'salesforce', enabled: true, allowInsecure: false };
  const a = new SalesforceWebToLeadClient(settings, workerCtx());
  const b = new SalesforceWebToLeadClient(settings, workerCtx());
  const oldest = clock;
  await a.deliver(lead);
  clock += 1_000;
  await b.deliver(lead);
  clock += 1_000;
  await a.deliver(lead);
  clock += 30 * 60_000;

  const err = await b.deliver(lead).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ThrottledError);
  expect((err as ThrottledError).retryAfterMs).toBe(oldest + DAY - clock);
  expect(fake.requestsTo('web-to-lead')).toHaveLength(3);

  clock = oldest + DAY + 1;
  await expect(a.deliver(lead)).resolves.toEqual({});
  expect(fake.webToLead.map((l) => l.outcome)).toEqual(['created', 'created', 'created', 'created']);
});
