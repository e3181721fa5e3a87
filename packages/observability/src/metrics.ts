import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The Prometheus metrics of README: Operations → Metrics. One instance per process; each app serves `registry` on /metrics. */
export class LeadRelayMetrics {
  readonly registry = new Registry();
  readonly leadsReceived = new Counter({ name: 'leadrelay_leads_received_total', help: 'Leads accepted by intake, by body format', labelNames: ['format'], registers: [this.registry] });
  readonly leadsRejected = new Counter({ name: 'leadrelay_leads_rejected_total', help: 'Requests intake refused, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly deliveries = new Counter({ name: 'leadrelay_deliveries_total', help: 'Delivery attempts by outcome', labelNames: ['destination', 'outcome'], registers: [this.registry] });
  readonly deliveryDuration = new Histogram({
    name: 'leadrelay_delivery_duration_seconds', help: 'Time one delivery attempt took', labelNames: ['destination'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry],
  });
  /** Reads queue counts and pause flags from Redis before each scrape, so every process reports the shared truth. */
  refreshFromRedis?: () => Promise<void>;
  readonly queueJobs: Gauge = new Gauge({
    name: 'leadrelay_queue_jobs', help: 'Jobs in each destination queue, by state (read from Redis)', labelNames: ['destination', 'state'], registers: [this.registry],
    collect: () => this.refreshOnce(),
  });
  readonly destinationPaused: Gauge = new Gauge({
    name: 'leadrelay_destination_paused', help: '1 when the destination is paused', labelNames: ['destination'], registers: [this.registry],
    collect: () => this.refreshOnce(),
  });
  /** Refreshes `auditLeads` (a full audit, so callers cache it); set by processes that expose it. */
  refreshAudit?: () => Promise<void>;
  readonly auditLeads: Gauge = new Gauge({
    name: 'leadrelay_audit_leads', help: 'Accepted leads per destination by bucket (delivered, dead, waiting, delayed, active, paused, skipped, lost), from the last audit',
    labelNames: ['destination', 'bucket'], registers: [this.registry],
    collect: () => this.refreshAudit?.(),
  });
  private refreshing?: Promise<void>;

  /** prom-client collects gauges in parallel: both gauges share one Redis read per scrape. */
  private refreshOnce(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        await this.refreshFromRedis?.();
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /** prom-client's default metrics are already named `process_*` / `nodejs_*`: the prefix is only `leadrelay_`. */
  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'leadrelay_' });
  }
}
