import { expect } from 'vitest';
import type { ChaosResult } from './chaos-run.js';

/** Prints what the run did and how the stores ended up (durations, retries, webhook repeats). */
export function reportChaos(result: ChaosResult, log: (line: string) => void): void {
  const { inspection: i } = result;
  log([
    `chaos run: ${result.expected.length} leads in ${(result.durationMs / 1000).toFixed(1)} s; drained: ${result.drained}`,
    `  intake: ${result.poster.requests} requests, ${result.poster.unavailable} answered 503/5xx, ${result.poster.networkErrors} network errors; ${result.retriedPosts} leads needed a retry`,
    `  table: ${i.table.entities} entities (${i.table.uniqueRowKeys} RowKeys); dynamics: ${i.dynamics.records} records from ${i.dynamics.writes} successful writes (max ${i.dynamics.maxWritesPerRecord} per record)`,
    `  marketo: ${i.marketo.records} people from ${i.marketo.writes} record writes (max ${i.marketo.maxWritesPerRecord} for one), ${i.marketo.duplicates.length} duplicate emails`,
    `  webhook: ${i.webhook.acceptedIds} leads accepted, ${i.webhook.duplicateDeliveries} duplicate deliveries over ${i.webhook.duplicateIds} leads (same webhook-id), ${i.webhook.badSignatures} bad signatures`,
    `  deliveries taken over after a lost lock (worker killed, Redis restarted, or a stalled event loop): ${Object.entries(result.takeovers).map(([d, n]) => `${d} ${n}`).join(', ')}`,
    `  dynamics 429s waited out: ${result.crmThrottled} throttled attempts recorded`,
    `  stats: ${result.stats.map((s) => `${s.destination} delivered=${s.delivered} dead=${s.dead}`).join(', ')}`,
  ].join('\n'));
}

/** The promises of README: How delivery behaves, under chaos: every accepted lead delivered everywhere it matched, once at every idempotent store. */
export function expectNothingLost(result: ChaosResult, leads: number): void {
  const { expected, inspection: i } = result;
  const toMarketo = expected.filter((l) => l.toMarketo).length;
  expect(result.unexpectedExits, 'no process died on its own').toEqual([]);
  expect(result.leakedSecrets, 'no secret in logs or lead status').toEqual([]);
  expect(expected).toHaveLength(leads);
  expect(new Set(expected.map((l) => l.id)).size, 'one lead id per posted lead').toBe(leads);
  expect(result.deadLetters.map((d) => `${d.destination} ${d.leadId}: ${d.lastError}`), 'nothing dead-lettered').toEqual([]);
  expect(result.undelivered.slice(0, 20), 'every lead delivered at every destination it matched').toEqual([]);
  expect(result.wrongFanOut.slice(0, 20), 'fan-out follows match rules').toEqual([]);
  expect(result.drained).toBe(true);

  // The audit equation held after every fault, while leads still flowed, and once drained everything is delivered or skipped.
  expect(result.audits.map((a) => `${a.after}: ${a.report.lostTotal} lost ${JSON.stringify(a.report.lost.slice(0, 5))}`))
    .toEqual(result.audits.map((a) => `${a.after}: 0 lost []`));
  expect(result.audits.at(-1)?.after).toBe('drain');
  for (const d of result.audits.at(-1)!.report.destinations) {
    expect(d.accepted, `${d.destination}: every lead accounted for at the end`).toBe(leads);
    expect(d.delivered + d.skipped, `${d.destination}: delivered + skipped = accepted once drained`).toBe(leads);
  }

  // Idempotent stores: exactly one record per lead, whatever was retried or redelivered.
  expect(i.table.missing.slice(0, 20)).toEqual([]);
  expect(i.table.unexpected.slice(0, 20)).toEqual([]);
  expect(i.table.entities).toBe(leads);
  expect(i.table.uniqueRowKeys).toBe(leads);
  expect(i.dynamics.missing.slice(0, 20)).toEqual([]);
  expect(i.dynamics.unexpected.slice(0, 20)).toEqual([]);
  expect(i.dynamics.records).toBe(leads);
  expect(i.marketo.duplicates).toEqual([]);
  expect(i.marketo.missing.slice(0, 20)).toEqual([]);
  expect(i.marketo.unexpected.slice(0, 20)).toEqual([]);
  expect(i.marketo.records).toBe(toMarketo);

  // The webhook is at-least-once: repeats are allowed, but each carries its lead's one webhook-id.
  expect(i.webhook.missing.slice(0, 20)).toEqual([]);
  expect(i.webhook.acceptedIds).toBe(leads);
  expect(i.webhook.leadsWithSeveralIds).toEqual([]);
  expect(i.webhook.badSignatures).toBe(0);

  // The 429 burst was seen and waited out rather than failing anything.
  expect(result.crmThrottled).toBeGreaterThan(0);
  // The Redis restart really happened under the clients: some posts had to be retried.
  expect(result.poster.unavailable + result.poster.networkErrors).toBeGreaterThan(0);
}
