import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LeadRelayConfig } from '@leadrelay/config';
import { LeadRelayMetrics, silentLogger } from '@leadrelay/observability';
import { Relay } from '@leadrelay/queue';
import { RedisServer } from '../../../test/helpers/index.js';
import { canonical, intakeConfig, jobCounts, KEY_ONE, postLead } from '../test/intake-fixture.js';
import { buildIntakeServer } from './index.js';

let server: RedisServer;
let config: LeadRelayConfig;
/** Waits for the relay's own verdict (so no command of a refused lead is still pending when Redis returns). */
let app: FastifyInstance;
/** Gives up on a hung Redis after 500 ms. */
let impatient: FastifyInstance;
/** The test's own view of Redis, to count jobs. */
let inspect: Relay;

beforeAll(async () => {
  server = await RedisServer.start({ appendonly: true });
  config = intakeConfig(server.url);
  inspect = new Relay(config);
  inspect.redis.on('error', () => { /* expected while the server is stopped */ });
  app = buildIntakeServer({ config, logger: silentLogger, metrics: new LeadRelayMetrics({ defaultMetrics: false }), redisTimeoutMs: 25_000 });
  impatient = buildIntakeServer({ config, logger: silentLogger, metrics: new LeadRelayMetrics({ defaultMetrics: false }), redisTimeoutMs: 500 });
  await Promise.all([app.ready(), impatient.ready()]);
});

afterAll(async () => {
  await app?.close();
  await impatient?.close();
  await inspect?.close();
  await server?.destroy();
});

/** Polls /readyz until intake's own connection is back (ioredis reconnects with backoff). */
async function untilReady(server = app): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await server.inject({ method: 'GET', url: '/readyz' })).statusCode === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('intake never became ready again');
}

async function redisPid(): Promise<number> {
  const info = await inspect.redis.info('server');
  return Number(/process_id:(\d+)/.exec(info)![1]);
}

describe('Redis unavailable', () => {
  it('503 problem with Retry-After while Redis is down, nothing queued; the same lead re-posted later is 202 once', async () => {
    const before = await postLead(app, canonical({ id: 'before-outage', leadSource: 'AzureMarketplace-INS|contoso.widget' }));
    expect(before.statusCode).toBe(202);

    await server.stop();
    const lead = canonical({ id: 'during-outage', leadSource: 'AzureMarketplace-INS|contoso.widget' });
    const down = await postLead(app, lead);
    expect(down.statusCode, down.body).toBe(503);
    expect(down.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(down.headers['retry-after']).toBe('5');
    expect(down.json()).toMatchObject({ type: 'https://leadrelay.dev/problems/unavailable', status: 503, errors: [] });
    // An id-less lead too (its dedupe lookup is the first thing to fail).
    expect((await postLead(app, canonical({ description: 'id-less during outage' }))).statusCode).toBe(503);
    // Status reads fail the same way, never as a 404 that would tell a client the lead is unknown.
    expect((await app.inject({ method: 'GET', url: '/v1/leads/before-outage', headers: { 'x-api-key': KEY_ONE } })).statusCode).toBe(503);

    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ type: 'https://leadrelay.dev/problems/unavailable', checks: { config: 'ok', redis: 'unreachable' } });
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toMatch(/^leadrelay_leads_rejected_total\{reason="unavailable"\} 2$/m);

    await server.start();
    await untilReady();
    // Redis kept what was accepted before the outage (AOF) and nothing of the refused lead.
    expect(await jobCounts(inspect)).toEqual({ all: 1, 'ins-only': 1, contoso: 1 });
    expect(await inspect.status('during-outage')).toBeUndefined();

    const retried = await postLead(app, lead);
    expect(retried.statusCode, retried.body).toBe(202);
    expect(retried.json()).toEqual({ id: 'during-outage', duplicate: false, destinations: ['all', 'ins-only', 'contoso'] });
    expect(await jobCounts(inspect)).toEqual({ all: 2, 'ins-only': 2, contoso: 2 });
    expect((await postLead(app, lead)).statusCode).toBe(200);
    expect(await jobCounts(inspect)).toEqual({ all: 2, 'ins-only': 2, contoso: 2 });
  }, 60_000); // each refused command waits out one reconnect attempt (backoff up to 2 s)

  it('503 when Redis hangs (no answer within redisTimeoutMs); the late write is never duplicated by a retry', async () => {
    await untilReady(impatient);
    const before = await jobCounts(inspect);
    const pid = await redisPid();
    const lead = canonical({ id: 'during-hang', leadSource: 'AzureMarketplace-INS|contoso.widget' });
    process.kill(pid, 'SIGSTOP');
    let hung;
    try {
      hung = await postLead(impatient, lead);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(hung.statusCode, hung.body).toBe(503);
    expect(hung.headers['retry-after']).toBe('5');

    // The stalled accept may finish in the background once Redis resumes; a retry must not queue it twice.
    await untilReady(impatient);
    const retried = await postLead(impatient, lead);
    expect([200, 202]).toContain(retried.statusCode);
    expect(retried.json()).toMatchObject({ id: 'during-hang', destinations: ['all', 'ins-only', 'contoso'] });
    expect((await postLead(impatient, lead)).statusCode).toBe(200);
    expect(await jobCounts(inspect)).toEqual({ all: before.all! + 1, 'ins-only': before['ins-only']! + 1, contoso: before.contoso! + 1 });
  });
});
