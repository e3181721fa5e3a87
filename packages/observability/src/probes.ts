import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PROBLEM_CONTENT_TYPE, PROBLEMS, problem } from '@leadrelay/core';
import type { LeadRelayMetrics } from './metrics.js';

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export interface ProbeAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface ProbeDeps {
  /** Whether Redis answers (in time). Default: the process needs no Redis (the demo inbox), ready once it listens. */
  ready?: () => Promise<boolean>;
  metrics: Pick<LeadRelayMetrics, 'registry'>;
  /** True once the process is shutting down: /readyz then says so, so load balancers stop sending. Default never. */
  closing?: () => boolean;
  /** `Retry-After` of a 503 /readyz, in seconds. Default 5. */
  retryAfterSeconds?: number;
}

/**
 * The three open endpoints every LeadRelay process serves, one answer for all of them (README: Operations):
 * `/healthz` (alive), `/readyz` (config loaded and Redis reachable: `{status, checks}`, else a 503 problem
 * with the same `checks`), `/metrics` (Prometheus text). Framework-free so each app wires it into its own server.
 */
export async function answerProbe(path: ProbePath, deps: ProbeDeps): Promise<ProbeAnswer> {
  if (path === '/healthz') return { status: 200, headers: { 'content-type': JSON_CONTENT_TYPE }, body: '{"status":"ok"}' };
  if (path === '/readyz') {
    const closing = deps.closing?.() ?? false;
    const ready = deps.ready;
    const redis = !closing && (!ready || await ready().catch(() => false));
    const checks = ready ? { config: 'ok', redis: redis ? 'ok' : 'unreachable' } : { config: 'ok' };
    if (redis) return { status: 200, headers: { 'content-type': JSON_CONTENT_TYPE }, body: JSON.stringify({ status: 'ready', checks }) };
    const body = problem(PROBLEMS.unavailable, closing || !ready ? 'Shutting down.' : 'Redis does not answer.', [], { checks });
    return { status: 503, headers: { 'content-type': PROBLEM_CONTENT_TYPE, 'retry-after': String(deps.retryAfterSeconds ?? 5) }, body: JSON.stringify(body) };
  }
  const text = await deps.metrics.registry.metrics().catch(async () =>
    // A failed Redis read must not hide the process metrics; report what we have.
    deps.metrics.registry.metrics().catch(() => ''));
  return { status: 200, headers: { 'content-type': deps.metrics.registry.contentType }, body: text };
}

export const PROBE_PATHS = ['/healthz', '/readyz', '/metrics'] as const;
export type ProbePath = (typeof PROBE_PATHS)[number];

export interface ProbeServer {
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

/**
 * A bare node:http server for the three probes, for processes with no HTTP API of their own (the
 * worker): a web framework would cost more memory than the rest of the endpoint.
 */
export async function startProbeServer(options: { host: string; port: number } & ProbeDeps): Promise<ProbeServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as ProbePath;
    if (req.method !== 'GET' || !PROBE_PATHS.includes(path)) {
      res.writeHead(404, { 'content-type': PROBLEM_CONTENT_TYPE }).end(JSON.stringify(problem(PROBLEMS.notFound, 'This server answers GET /healthz, /readyz and /metrics.')));
      return;
    }
    answerProbe(path, options).then(
      (a) => res.writeHead(a.status, a.headers).end(a.body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** What registerProbeRoutes needs of a web app (Fastify's, structurally): observability stays free of the framework. */
export interface ProbeRouter {
  get(path: string, handler: (request: unknown, reply: ProbeReply) => Promise<unknown>): unknown;
}

export interface ProbeReply {
  code(status: number): ProbeReply;
  headers(values: Record<string, string>): ProbeReply;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Fastify types send's argument per route schema
  send(body: any): unknown;
}

/** The probes as routes of an app that has an HTTP API of its own (intake, ops): the same answers as the worker's server. */
export function registerProbeRoutes(app: ProbeRouter, deps: ProbeDeps): void {
  for (const path of PROBE_PATHS) {
    app.get(path, async (_request, reply) => {
      const a = await answerProbe(path, deps);
      return reply.code(a.status).headers(a.headers).send(a.body);
    });
  }
}
