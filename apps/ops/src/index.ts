import Fastify, { type FastifyInstance } from 'fastify';
import type { LeadRelayConfig } from '@leadrelay/config';
import { PROBE_PATHS, answerProbe, createRuntime, type Runtime } from '@leadrelay/observability';
import { Relay, exposeQueueMetrics } from '@leadrelay/queue';

export interface OpsOptions {
  config: LeadRelayConfig;
  runtime?: Runtime;
  relay?: Relay;
}

/** The ops server: probes and metrics for now; the dashboard is served by later work. */
export async function buildOpsServer(options: OpsOptions): Promise<{ app: FastifyInstance; relay: Relay }> {
  const { config } = options;
  const runtime = options.runtime ?? createRuntime({ name: 'ops', secretsFrom: config });
  const relay = options.relay ?? new Relay(config);
  exposeQueueMetrics(relay, runtime.metrics);
  const app = Fastify({ logger: false });
  for (const path of PROBE_PATHS) {
    app.get(path, async (_req, reply) => {
      const a = await answerProbe(path, { ready: () => relay.ping(), metrics: runtime.metrics });
      return reply.code(a.status).type(a.contentType).send(a.body);
    });
  }
  app.addHook('onClose', async () => { if (!options.relay) await relay.close(); });
  return { app, relay };
}

export async function startOps(options: OpsOptions): Promise<{ app: FastifyInstance; stop(): Promise<void> }> {
  if (!options.config.ops.password) throw new Error('ops.password is not set: the ops server refuses to start without it (set OPS_PASSWORD)');
  const { app } = await buildOpsServer(options);
  await app.listen({ host: options.config.ops.host, port: options.config.ops.port });
  return { app, stop: () => app.close() };
}
