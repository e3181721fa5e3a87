import type { LeadRelayMetrics } from '@leadrelay/observability';
import { AUDIT_BUCKETS, LeadAudit } from './lead-audit.js';
import type { Relay } from './relay.js';
import { withTimeout } from './with-timeout.js';

export interface AuditMetricOptions {
  /** A scrape re-runs the audit only when the last one is older than this (default 60 s): it reads every lead. */
  maxAgeMs?: number;
  /** Longest a scrape waits for a running audit (default 2 s); it then reports the previous figures. */
  timeoutMs?: number;
  onError?: (e: unknown) => void;
}

/** Makes `leadrelay_audit_leads{destination,bucket}` report the zero-loss audit, refreshed at most every `maxAgeMs`. */
export function exposeAuditMetric(relay: Relay, metrics: LeadRelayMetrics, options: AuditMetricOptions = {}): void {
  const { maxAgeMs = 60_000, timeoutMs = 2000, onError } = options;
  let last = 0;
  let running: Promise<void> | undefined;
  const audit = async () => {
    const a = new LeadAudit(relay.redis, relay.keys, { configured: relay.config.destinations.map((d) => d.id), lostLimit: 0 });
    try {
      const report = await a.run();
      metrics.auditLeads.reset();
      for (const d of report.destinations) {
        metrics.auditLeads.set({ destination: d.destination, bucket: 'accepted' }, d.accepted);
        for (const b of AUDIT_BUCKETS) metrics.auditLeads.set({ destination: d.destination, bucket: b }, d[b]);
      }
      last = Date.now();
    } finally {
      await a.close();
    }
  };
  metrics.refreshAudit = async () => {
    if (!running && Date.now() - last >= maxAgeMs) {
      running = audit().catch((e: unknown) => onError?.(e)).finally(() => { running = undefined; });
    }
    if (running) await withTimeout(running, timeoutMs).catch(() => undefined);
  };
}
