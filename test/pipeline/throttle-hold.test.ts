import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '@leadrelay/config';
import { Relay } from '@leadrelay/queue';
import { WebhookReceiver } from '../fakes/webhook-receiver/index.js';
import { LeadRelayProcesses } from '../helpers/leadrelay-process.js';
import { freePort, uniquePrefix } from '../helpers/index.js';
import { API_KEY, marketplaceLead } from './pipeline-harness.js';

/** Longer than BullMQ's 30 s cap on a rate-limit delay (maximumRateLimitDelay), which must not shorten the hold. */
const WINDOW_S = 35;
const LEADS = 12;

/**
 * A 429 with Retry-After holds the whole destination for every worker process, for as long as it
 * says: no request meanwhile, no attempt used, held leads `delayed` rather than `active`.
 */
describe('throttling holds the destination across worker processes', () => {
  const processes = new LeadRelayProcesses();
  const dir = mkdtempSync(join(tmpdir(), 'leadrelay-hold-'));
  let receiver: WebhookReceiver | undefined;
  let relay: Relay | undefined;
  afterEach(async () => {
    await processes.killAll();
    await relay?.close();
    await receiver?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`a ${WINDOW_S} s Retry-After is obeyed by two workers of a destination without rateLimit`, async () => {
    // Like a real API over its limit: every request in the window is refused with the same Retry-After.
    receiver = await WebhookReceiver.start({ defaultReply: { status: 429, headers: { 'Retry-After': String(WINDOW_S) } } });
    const yaml = `
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('hold')} }
intake: { apiKeys: ["${API_KEY}"] }
worker: { host: 127.0.0.1, metricsPort: \${LEADRELAY_METRICS_PORT:-0} }
retry: { attempts: 2, initialDelay: 100ms, maxDelay: 1s, maxThrottleWait: 10m }
destinations:
  - { id: hook, type: https, url: "${receiver.url('/hook')}", concurrency: 3 }
`;
    const configPath = join(dir, 'leadrelay.yaml');
    writeFileSync(configPath, yaml);
    relay = new Relay(parseConfig(yaml, configPath, { env: {} }));
    const ports = [await freePort(), await freePort()];
    const workers = ports.map((port, i) => processes.start(['worker', '--config', configPath], { name: `worker-${i + 1}`, env: { LEADRELAY_METRICS_PORT: String(port) } }));
    await Promise.all(workers.map((w, i) => w.waitReady(ports[i]!)));

    const ids: string[] = [];
    for (let i = 0; i < LEADS; i++) ids.push((await relay.accept(marketplaceLead(), { clientId: false })).id);
    await receiver.waitForRequests(1, 30_000);
    const first = receiver.requests[0]!.receivedAt.getTime();
    setTimeout(() => receiver!.setDefaultReply({ status: 200 }), WINDOW_S * 1000 - 100);

    // Mid-window: the leads wait as `delayed`, none is held `active`.
    await new Promise((r) => setTimeout(r, 5000));
    const stats = await relay.stats('hook');
    expect(stats.state).toBe('throttled');
    expect(stats.active).toBe(0);
    expect(stats.delayed + stats.waiting).toBe(LEADS);
    const held = await relay.status(ids[0]!);
    expect(held!.deliveries.hook!.state).toBe('delayed');

    await receiver.waitForAccepted(LEADS, (WINDOW_S + 60) * 1000);
    // Requests that were already on their way when the first 429 came back arrive within a few ms of it.
    const inWindow = receiver.requests.filter((r) => r.receivedAt.getTime() > first + 500 && r.receivedAt.getTime() < first + WINDOW_S * 1000 - 500);
    console.log(`throttle hold: ${receiver.requests.filter((r) => r.receivedAt.getTime() < first + WINDOW_S * 1000).length} requests before the window ended, ${inWindow.length} inside it after the first 429`);
    expect(inWindow.length).toBeLessThanOrEqual(workers.length);
    expect(receiver.duplicateIds()).toEqual([]);
    expect(await relay.deadLetters({})).toHaveLength(0);
    for (const id of ids) {
      const s = await relay.status(id);
      expect(s!.deliveries.hook).toMatchObject({ state: 'delivered', attempts: 1 });
    }
  }, 180_000);
});
