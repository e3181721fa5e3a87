import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LeadRelayMetrics } from './metrics.js';

export interface ProbeAnswer {
  status: number;
  contentType: string;
  body: string;
}

/**
 * The three open endpoints every LeadRelay process serves (SPEC §3): `/healthz` (alive),
 * `/readyz` (Redis reachable, config loaded), `/metrics` (Prometheus text). Framework-free so each
 * app wires it into its own server.
 */
export async function answerProbe(path: '/healthz' | '/readyz' | '/metrics', deps: { ready: () => Promise<boolean>; metrics: LeadRelayMetrics }): Promise<ProbeAnswer> {
  if (path === '/healthz') return { status: 200, contentType: 'application/json', body: '{"status":"ok"}' };
  if (path === '/readyz') {
    const ok = await deps.ready().catch(() => false);
    return { status: ok ? 200 : 503, contentType: 'application/json', body: JSON.stringify({ status: ok ? 'ready' : 'redis unreachable' }) };
  }
  try {
    return { status: 200, contentType: deps.metrics.registry.contentType, body: await deps.metrics.registry.metrics() };
  } catch {
    // A failed Redis read must not hide the process metrics; report what we have.
    return { status: 200, contentType: deps.metrics.registry.contentType, body: await deps.metrics.registry.metrics().catch(() => '') };
  }
}

export const PROBE_PATHS = ['/healthz', '/readyz', '/metrics'] as const;

export interface ProbeServer {
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

/**
 * A bare node:http server for the three probes, for processes with no HTTP API of their own (the
 * worker): a web framework would cost more memory than the rest of the endpoint.
 */
export async function startProbeServer(options: { host: string; port: number; ready: () => Promise<boolean>; metrics: LeadRelayMetrics }): Promise<ProbeServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as (typeof PROBE_PATHS)[number];
    if (req.method !== 'GET' || !PROBE_PATHS.includes(path)) {
      res.writeHead(404, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ type: 'about:blank', title: 'Not Found', status: 404 }));
      return;
    }
    answerProbe(path, options).then(
      (a) => res.writeHead(a.status, { 'content-type': a.contentType }).end(a.body),
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
