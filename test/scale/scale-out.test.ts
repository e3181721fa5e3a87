import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '@leadrelay/config';
import { parseJsonLead, type Lead } from '@leadrelay/core';
import { Relay } from '@leadrelay/queue';
import { MARKETO_REAL_LIMITS } from '../fakes/marketo/index.js';
import { DestinationFakes, type ExpectedLead } from '../helpers/destination-fakes.js';
import { freePort } from '../helpers/free-port.js';
import { LeadRelayProcesses } from '../helpers/leadrelay-process.js';
import { readTlsCert } from '../helpers/tls-cert.js';
import { uniquePrefix } from '../helpers/unique.js';

const LEADS = 2000;
const WORKERS = 3;
const DESTINATIONS = ['hook', 'table', 'crm', 'mkto'];

/** `leadrelay_deliveries_total{destination, outcome="delivered"}` of one worker's /metrics. */
async function deliveredByDestination(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^leadrelay_deliveries_total\{([^}]*)\} (\d+)/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (labels.outcome === 'delivered') out[labels.destination!] = (out[labels.destination!] ?? 0) + Number(m[2]);
  }
  return out;
}

/**
 * Scaling out (README: Operations): three worker processes on one set of queues share 2,000 leads to four destinations;
 * between them every lead is delivered exactly once per destination.
 */
describe('scale out: three CLI workers on one queue set', () => {
  const processes = new LeadRelayProcesses();
  const dir = mkdtempSync(join(tmpdir(), 'leadrelay-scale-'));
  let fakes: DestinationFakes | undefined;
  let relay: Relay | undefined;
  const ports: number[] = [];

  beforeAll(async () => {
    fakes = await DestinationFakes.start({
      azuriteConnectionString: inject('azuriteConnectionString'), tls: readTlsCert(inject('tlsCert')),
      // Marketo's real limits: three workers × 5 calls would exceed its 10 concurrent calls (615 → waited out).
      marketo: { limits: MARKETO_REAL_LIMITS, latencyMs: 10 },
    });
    const yaml = `
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('scale')} }
intake: { apiKeys: ["scale-intake-key-0123456789"] }
worker: { host: 127.0.0.1, metricsPort: \${LEADRELAY_METRICS_PORT:-0} }
retry: { attempts: 5, initialDelay: 200ms, maxDelay: 2s }
destinations:
${fakes.destinationsYaml()}`;
    const configPath = join(dir, 'leadrelay.yaml');
    writeFileSync(configPath, yaml);
    relay = new Relay(parseConfig(yaml, configPath, { env: {} }));
    for (let i = 0; i < WORKERS; i++) ports.push(await freePort());
    const workers = ports.map((port, i) => processes.start(['worker', '--config', configPath], { name: `worker-${i + 1}`, env: { LEADRELAY_METRICS_PORT: String(port) }, watchFor: fakes!.secrets }));
    await Promise.all(workers.map((w, i) => w.waitReady(ports[i]!, 60_000)));
  }, 120_000);

  afterAll(async () => {
    await processes.killAll();
    await relay?.close();
    await fakes?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it(`delivers ${LEADS} leads exactly once per destination, shared by ${WORKERS} workers`, async () => {
    const started = Date.now();
    const tag = uniquePrefix('s');
    const leads: Lead[] = [];
    for (let i = 0; i < LEADS; i++) {
      const r = parseJsonLead({
        UserDetails: { FirstName: 'Grace', LastName: `Scale${i}`, Email: `scale${i}.${tag}@contoso.com`, Company: 'Contoso', Country: 'US' },
        LeadSource: 'AzureMarketplace', ActionCode: 'INS', OfferTitle: 'Widget',
      }, { query: { offer: 'contoso.widget' } });
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      leads.push(r.lead);
    }
    // Accepted while the workers run, 16 at a time, like a busy intake.
    const expected: ExpectedLead[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      for (let i = next++; i < LEADS; i = next++) {
        const a = await relay!.accept(leads[i]!, { clientId: false });
        expect(a.destinations).toEqual(DESTINATIONS);
        expected.push({ id: a.id, email: leads[i]!.customer.email!, toMarketo: true });
      }
    }));
    const acceptedMs = Date.now() - started;

    const deadline = Date.now() + 120_000;
    for (;;) {
      const stats = await relay!.allStats();
      expect(stats.filter((s) => s.dead > 0 || s.state === 'paused')).toEqual([]);
      if (stats.every((s) => s.waiting + s.active + s.delayed === 0)) break;
      if (Date.now() > deadline) throw new Error(`not drained: ${JSON.stringify(stats)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const deliveredMs = Date.now() - started;

    // Every lead delivered everywhere. Retries may happen (a keep-alive connection reset under load), they are reported.
    const undelivered: string[] = [];
    const retried: string[] = [];
    for (let i = 0; i < expected.length; i += 100) {
      const statuses = await Promise.all(expected.slice(i, i + 100).map((l) => relay!.status(l.id)));
      for (const s of statuses) {
        for (const d of DESTINATIONS) {
          const r = s?.deliveries[d];
          if (r?.state !== 'delivered') undelivered.push(`${s?.id} ${d}: ${JSON.stringify(r)}`);
          else if (r.attempts > 1) retried.push(`${d}: ${s!.timeline.find((t) => t.destination === d && t.outcome !== 'delivered')?.error}`);
        }
      }
    }
    expect(undelivered.slice(0, 10)).toEqual([]);

    // The stores: one record per lead, each written once.
    const i = await fakes!.inspect(expected);
    expect(i.table.entities).toBe(LEADS);
    expect(i.table.uniqueRowKeys).toBe(LEADS);
    expect(i.table.missing).toEqual([]);
    expect(i.dynamics.records).toBe(LEADS);
    expect(i.dynamics.missing).toEqual([]);
    expect(i.dynamics.writes).toBe(LEADS);
    expect(i.dynamics.maxWritesPerRecord).toBe(1);
    expect(i.marketo.records).toBe(LEADS);
    expect(i.marketo.duplicates).toEqual([]);
    expect(i.marketo.maxWritesPerRecord).toBe(1);
    expect(i.webhook.acceptedIds).toBe(LEADS);
    expect(i.webhook.duplicateDeliveries).toBe(0);

    // The three workers shared the work, and between them delivered each lead once per destination.
    const perWorker = await Promise.all(ports.map(deliveredByDestination));
    for (const d of DESTINATIONS) expect(perWorker.reduce((s, w) => s + (w[d] ?? 0), 0)).toBe(LEADS);
    for (const w of perWorker) expect(Object.values(w).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(processes.running).toHaveLength(WORKERS);
    expect(processes.started.filter((p) => p.seen.size > 0).map((p) => p.name), 'no secret in worker logs').toEqual([]);

    console.log(`scale out: ${LEADS} leads accepted in ${(acceptedMs / 1000).toFixed(1)} s, delivered to ${DESTINATIONS.length} destinations in ${(deliveredMs / 1000).toFixed(1)} s; ${retried.length} deliveries retried${retried.length ? ` (first: ${retried[0]})` : ''}; per worker: ${perWorker.map((w) => JSON.stringify(w)).join(' ')}`);
  }, 180_000);
});
