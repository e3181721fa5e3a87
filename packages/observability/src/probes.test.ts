import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { LeadRelayMetrics } from './metrics.js';
import { registerProbeRoutes, startProbeServer, type ProbeDeps, type ProbeServer } from './probes.js';

/** Every process answers its probes the same way: the worker's bare server and an app's routes (intake, ops). */
describe('probes', () => {
  const servers: ProbeServer[] = [];
  afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

  async function bothAnswers(path: string, deps: ProbeDeps) {
    const server = await startProbeServer({ host: '127.0.0.1', port: 0, ...deps });
    servers.push(server);
    const bare = await fetch(`http://127.0.0.1:${server.port}${path}`);
    const app = Fastify();
    registerProbeRoutes(app, deps);
    const routed = await app.inject({ method: 'GET', url: path });
    await app.close();
    return {
      bare: { status: bare.status, type: bare.headers.get('content-type'), retryAfter: bare.headers.get('retry-after'), body: await bare.text() },
      routed: { status: routed.statusCode, type: routed.headers['content-type'], retryAfter: routed.headers['retry-after'] ?? null, body: routed.body },
    };
  }

  it('/readyz: 200 with checks while Redis answers, the same from both servers', async () => {
    const { bare, routed } = await bothAnswers('/readyz', { ready: async () => true, metrics: new LeadRelayMetrics({ defaultMetrics: false }) });
    expect(bare).toEqual(routed);
    expect(bare.status).toBe(200);
    expect(JSON.parse(bare.body)).toEqual({ status: 'ready', checks: { config: 'ok', redis: 'ok' } });
  });

  it('/readyz: a 503 problem with checks and Retry-After when Redis does not answer (or the ping throws), and while shutting down', async () => {
    const metrics = new LeadRelayMetrics({ defaultMetrics: false });
    for (const ready of [async () => false, async () => { throw new Error('ECONNREFUSED'); }]) {
      const { bare, routed } = await bothAnswers('/readyz', { ready, metrics, retryAfterSeconds: 7 });
      expect(bare).toEqual(routed);
      expect(bare).toMatchObject({ status: 503, type: 'application/problem+json; charset=utf-8', retryAfter: '7' });
      expect(JSON.parse(bare.body)).toMatchObject({ status: 503, title: 'Lead storage is unavailable', detail: 'Redis does not answer.', checks: { config: 'ok', redis: 'unreachable' } });
    }
    const { bare } = await bothAnswers('/readyz', { ready: async () => true, metrics, closing: () => true });
    expect(JSON.parse(bare.body)).toMatchObject({ status: 503, detail: 'Shutting down.' });
  });

  it('/healthz and /metrics answer alike; the bare server has problem+json for anything else', async () => {
    const metrics = new LeadRelayMetrics({ defaultMetrics: false });
    const health = await bothAnswers('/healthz', { ready: async () => false, metrics });
    expect(health.bare).toEqual(health.routed);
    expect(JSON.parse(health.bare.body)).toEqual({ status: 'ok' });
    const text = await bothAnswers('/metrics', { ready: async () => true, metrics });
    expect(text.bare.body).toBe(text.routed.body);
    expect(text.bare.body).toContain('leadrelay_');

    const server = await startProbeServer({ host: '127.0.0.1', port: 0, ready: async () => true, metrics });
    servers.push(server);
    const other = await fetch(`http://127.0.0.1:${server.port}/v1/leads`);
    expect(other.status).toBe(404);
    expect(await other.json()).toMatchObject({ status: 404, title: 'No such resource' });
  });
});
