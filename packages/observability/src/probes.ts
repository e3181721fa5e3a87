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
