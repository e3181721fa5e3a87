import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The demo inbox's /metrics: a registry of its own, since LeadRelay's series (intake, deliveries, queues) would
 * all be empty there. Process metrics plus what it received.
 */
export class InboxMetrics {
  readonly registry = new Registry();
  readonly leadsReceived = new Counter({
    name: 'leadrelay_inbox_leads_received_total', help: 'Leads the demo inbox received, by whether their Standard Webhooks signature was verified',
    labelNames: ['verified'], registers: [this.registry],
  });
  readonly rejected = new Counter({ name: 'leadrelay_inbox_rejected_total', help: 'Requests the demo inbox refused for a bad signature', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'leadrelay_inbox_' });
  }
}
