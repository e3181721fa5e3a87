import { Counter, Gauge, type Registry } from 'prom-client';

/** `leadrelay_source_*` metrics, registered on the process's registry. */
export class SourceMetrics {
  readonly polls: Counter;
  readonly leadsFound: Counter;
  readonly lag: Gauge;

  constructor(registry: Registry, readLag: () => Promise<Record<string, number | undefined>>) {
    const existing = registry.getSingleMetric('leadrelay_source_polls_total');
    if (existing) {
      // A second service in one process (tests, `start`) shares the first one's metrics.
      this.polls = existing as Counter;
      this.leadsFound = registry.getSingleMetric('leadrelay_source_leads_total') as Counter;
      this.lag = registry.getSingleMetric('leadrelay_source_lag_seconds') as Gauge;
      return;
    }
    this.polls = new Counter({ name: 'leadrelay_source_polls_total', help: 'Polls of each pull source, by outcome (ok, failed, paused, busy)', labelNames: ['source', 'outcome'], registers: [registry] });
    this.leadsFound = new Counter({ name: 'leadrelay_source_leads_total', help: 'Leads a pull source found, by outcome (accepted, duplicate, merged into a lead another source brought, invalid, filtered)', labelNames: ['source', 'outcome'], registers: [registry] });
    const lag: Gauge = new Gauge({
      name: 'leadrelay_source_lag_seconds', help: 'Now minus the newest instant up to which the source has been read (read from Redis)', labelNames: ['source'], registers: [registry],
      async collect() {
        lag.reset();
        for (const [source, seconds] of Object.entries(await readLag().catch(() => ({})))) if (seconds !== undefined) lag.set({ source }, seconds);
      },
    });
    this.lag = lag;
  }
}
