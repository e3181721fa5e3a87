import { inject } from 'vitest';
import { parseConfig, type LeadRelayConfig } from '@leadrelay/config';
import { parseJsonLead, type Lead } from '@leadrelay/core';
import { DeliveryService, type DeliveryServiceOptions } from '@leadrelay/delivery';
import { LeadRelayMetrics, silentLogger } from '@leadrelay/observability';
import { Relay } from '@leadrelay/queue';
import { uniquePrefix } from '../helpers/index.js';

export const API_KEY = 'test-key-0123456789abcdef';

/** Builds a config from the destinations' YAML with a fresh Redis prefix and fast retries. */
export function pipelineConfig(destinationsYaml: string, extra = ''): LeadRelayConfig {
  const text = `
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('p')} }
intake: { apiKeys: ["${API_KEY}"] }
retry: { attempts: 3, initialDelay: 50ms, maxDelay: 200ms }
worker: { shutdownTimeout: 5s }
${extra}
destinations:
${destinationsYaml}`;
  return parseConfig(text, 'test.yaml', { env: {} });
}

let seq = 0;
/** A Microsoft HTTPS-endpoint lead with a unique email (hence a unique content id). */
export function marketplaceLead(overrides: Record<string, unknown> = {}): Lead {
  const n = ++seq;
  const r = parseJsonLead({
    UserDetails: { FirstName: 'Ada', LastName: `Lovelace${n}`, Email: `ada${n}-${Date.now()}@contoso.com`, Company: 'Contoso', Country: 'US' },
    LeadSource: 'AzureMarketplace-INS|contoso.widget', ActionCode: 'INS', OfferTitle: 'Widget', ...overrides,
  });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.lead;
}

/** A Relay for accepting and inspecting, and a DeliveryService running every destination's worker. */
export class Pipeline {
  readonly relay: Relay;
  service?: DeliveryService;
  readonly metrics = new LeadRelayMetrics({ defaultMetrics: false });

  constructor(readonly config: LeadRelayConfig) {
    this.relay = new Relay(config);
  }

  async startWorkers(only?: string[], options: Partial<DeliveryServiceOptions> = {}): Promise<DeliveryService> {
    this.service = new DeliveryService({ config: this.config, logger: silentLogger, metrics: this.metrics, lockDurationMs: 2000, ...(only ? { only } : {}), ...options });
    await this.service.start();
    return this.service;
  }

  async stopWorkers(): Promise<void> {
    await this.service?.stop(2000);
    this.service = undefined;
  }

  async accept(lead: Lead): Promise<string> {
    return (await this.relay.accept(lead, { clientId: false })).id;
  }

  /** Polls the lead's status until `predicate` holds. */
  async waitForState(leadId: string, destination: string, states: string[], timeoutMs = 15_000): Promise<NonNullable<Awaited<ReturnType<Relay['status']>>>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.relay.status(leadId);
      if (s && states.includes(s.deliveries[destination]?.state ?? '')) return s;
      if (Date.now() > deadline) throw new Error(`lead ${leadId} at ${destination} never reached ${states.join('/')}: ${JSON.stringify(s?.deliveries[destination])}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Waits until no destination queue has waiting, active or delayed jobs. */
  async waitIdle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const counts = await Promise.all(this.config.destinations.map((d) => this.relay.queue(d.id).getJobCounts('waiting', 'active', 'delayed', 'prioritized')));
      if (counts.every((c) => Object.values(c).every((n) => n === 0))) return;
      if (Date.now() > deadline) throw new Error(`queues not idle: ${JSON.stringify(counts)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    await this.stopWorkers();
    await this.relay.close();
  }
}
