import { afterEach, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '@leadrelay/config';
import { silentLogger } from '@leadrelay/observability';
import { Relay } from '@leadrelay/queue';
import { Registry } from 'prom-client';
import { runPoll } from '../../../test/helpers/source-polls.js';
import { uniquePrefix } from '../../../test/helpers/unique.js';
import type { PullSource, SourcePage } from './pull-source.js';
import { SourceAuthError } from './source-auth-error.js';
import { SourceService, type SourceServiceEvents } from './source-service.js';

/** A source whose polls fail while `failWith` is set: an outage of the storage account or API behind it. */
class FlakySource implements PullSource {
  failWith?: Error;
  initialWatermark() { return null; }
  async *pages(): AsyncIterable<SourcePage> {
    if (this.failWith) throw this.failWith;
  }
}

describe('source-failing and source-recovered', () => {
  const closing: Array<() => Promise<void>> = [];
  afterEach(async () => { for (const c of closing.splice(0).reverse()) await c(); });

  async function start(workers = 1, failingAfter?: number) {
    const config = parseConfig(`
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('srcf')} }
intake: { apiKeys: ["test-key-0123456789abcdef"] }
sources:
  - { id: old-table, type: azure-table, connectionString: "UseDevelopmentStorage=true", table: Leads }
destinations:
  - { id: hook, type: https, url: "https://hooks.example.com/leads" }
`, 'test.yaml', { env: {} });
    const reader = new FlakySource();
    const relay = new Relay(config, { role: 'blocking' });
    closing.push(() => relay.close());
    const events: Array<{ type: keyof SourceServiceEvents; e: unknown }> = [];
    const services: SourceService[] = [];
    // Several worker processes: each poll attempt may run in any of them.
    for (let i = 0; i < workers; i++) {
      const service = new SourceService({
        config, relay, logger: silentLogger, registry: new Registry(), schedule: false, retryDelayMs: 10, attempts: 1,
        createSource: async () => reader, ...(failingAfter ? { failingAfter } : {}),
      });
      for (const type of ['source-failing', 'source-recovered', 'source-paused'] as const) service.on(type, (e: unknown) => events.push({ type, e }));
      await service.start();
      closing.push(() => service.close());
      services.push(service);
    }
    const poll = (i = 0) => runPoll(services[i % services.length]!, 'old-table');
    return { reader, events, poll, services };
  }

  it('emits source-failing once after 3 failed polls in a row (default), and source-recovered once on the next successful poll', async () => {
    const { reader, events, poll } = await start(2);
    reader.failWith = new Error('connect ECONNREFUSED 127.0.0.1:10002');
    expect(await poll(0)).toMatch(/ECONNREFUSED/);
    expect(await poll(1)).toMatch(/ECONNREFUSED/);
    expect(events).toEqual([]);
    const before = new Date().toISOString();
    expect(await poll(0)).toMatch(/ECONNREFUSED/);
    expect(events).toEqual([{ type: 'source-failing', e: {
      source: 'old-table', failures: 3, failingSince: expect.stringMatching(/^\d{4}-/), lastError: 'connect ECONNREFUSED 127.0.0.1:10002', remediation: expect.stringMatching(/reachable/),
    } }]);
    const failing = events[0]!.e as { failingSince: string };
    expect(failing.failingSince < before).toBe(true);
    // The outage goes on: no repeat, from either process.
    await poll(1);
    await poll(0);
    expect(events.map((x) => x.type)).toEqual(['source-failing']);

    reader.failWith = undefined;
    expect(await poll(1)).toBe('completed');
    expect(await poll(0)).toBe('completed');
    expect(events.map((x) => x.type)).toEqual(['source-failing', 'source-recovered']);
    expect(events[1]!.e).toEqual({ source: 'old-table', failures: 5, failingSince: failing.failingSince, recoveredAt: expect.stringMatching(/^\d{4}-/) });
  });

  it('a streak shorter than the threshold says nothing, and a success starts the count over', async () => {
    const { reader, events, poll } = await start(1, 2);
    reader.failWith = new Error('HTTP 503');
    await poll();
    reader.failWith = undefined;
    expect(await poll()).toBe('completed');
    reader.failWith = new Error('HTTP 503');
    await poll();
    expect(events).toEqual([]);
    await poll();
    expect(events.map((x) => x.type)).toEqual(['source-failing']);
    expect(events[0]!.e).toMatchObject({ failures: 2 });
  });

  it('a poll that pauses the source says source-paused, not source-failing', async () => {
    const { reader, events, poll } = await start(1, 1);
    reader.failWith = new SourceAuthError('the storage account refused our credentials', 'Fix connectionString, then `leadrelay resume old-table`');
    await poll();
    expect(events.map((x) => x.type)).toEqual(['source-paused']);
  });
});
