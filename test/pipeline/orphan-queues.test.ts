import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '@leadrelay/config';
import { DeliveryService } from '@leadrelay/delivery';
import { LeadRelayMetrics, createLogger } from '@leadrelay/observability';
import { LeadAudit, OrphanQueues, Relay } from '@leadrelay/queue';
import { WebhookReceiver } from '../fakes/webhook-receiver/index.js';
import { runCli } from '../helpers/run-cli.js';
import { uniquePrefix } from '../helpers/index.js';
import { API_KEY, Pipeline, marketplaceLead } from './pipeline-harness.js';

/**
 * A destination removed from the config, or renamed, leaves its queue behind: nothing delivers it.
 * validate, worker start and stats name it with counts per state; dlq lists its dead letters; `dlq replay
 * --destination <old> --to <new>` moves its backlog; `purge <old>` deletes it.
 */
describe('queues of destinations no longer in the config', () => {
  let dir = '';
  let pipelines: Pipeline[] = [];
  let receivers: WebhookReceiver[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'leadrelay-orphan-'));
  });
  afterEach(async () => {
    for (const p of pipelines) await p.close();
    for (const r of receivers) await r.stop();
    pipelines = [];
    receivers = [];
    rmSync(dir, { recursive: true, force: true });
  });

  const configFile = (name: string, prefix: string, destinations: string) => {
    const yaml = `
redis: { url: "${inject('redisUrl')}", prefix: ${prefix} }
intake: { apiKeys: ["${API_KEY}"] }
retry: { attempts: 1, initialDelay: 50ms, maxDelay: 200ms }
worker: { shutdownTimeout: 5s }
destinations:
${destinations}`;
    const path = join(dir, name);
    writeFileSync(path, yaml);
    const p = new Pipeline(parseConfig(yaml, path, { env: {} }));
    pipelines.push(p);
    return { path, p };
  };

  it('a renamed destination: named by validate, worker start and stats; its dead letters listed; moved to the new name and delivered', async () => {
    const oldHook = await WebhookReceiver.start({ defaultReply: { status: 400, body: { error: 'rejected' } } });
    const newHook = await WebhookReceiver.start();
    receivers.push(oldHook, newHook);
    const prefix = uniquePrefix('orphan');
    // Before: destination `old`; one lead dead-lettered there, two waiting (no worker ran for them).
    const before = configFile('before.yaml', prefix, `  - { id: old, type: https, url: "${oldHook.url('/old')}" }`);
    const dead = await before.p.accept(marketplaceLead());
    await before.p.startWorkers();
    await before.p.waitForState(dead, 'old', ['dead']);
    await before.p.stopWorkers();
    const waiting = [await before.p.accept(marketplaceLead()), await before.p.accept(marketplaceLead())];

    // After: renamed to `hook`.
    const after = configFile('after.yaml', prefix, `  - { id: hook, type: https, url: "${newHook.url('/hook')}" }`);
    const validate = await runCli('validate', '--config', after.path);
    expect(validate.code).toBe(0);
    expect(validate.err).toMatch(/queue 'old' has 3 lead\(s\) but no destination in the config \(2 waiting, 1 dead\)/);
    expect(validate.err).toContain('leadrelay dlq replay --destination old --to <destination>');

    const stats = await runCli('stats', '--json', '--config', after.path);
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.out)).toContainEqual({ destination: 'old', configured: false, state: 'orphaned', waiting: 2, active: 0, delayed: 0, dead: 1 });
    const statsText = await runCli('stats', '--config', after.path);
    expect(statsText.out).toMatch(/queue 'old' has 3 lead/);

    const list = await runCli('dlq', 'list', '--json', '--destination', 'old', '--config', after.path);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.out).map((d: { leadId: string }) => d.leadId)).toEqual([dead]);

    // Worker start warns with the counts.
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', destination: new Writable({ write(chunk, _e, done) { lines.push(String(chunk)); done(); } }) });
    const service = new DeliveryService({ config: after.p.config, logger, metrics: new LeadRelayMetrics({ defaultMetrics: false }), lockDurationMs: 2000 });
    await service.start();
    await service.stop(2000);
    const warning = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.code === 'LR_ORPHAN_QUEUE');
    expect(warning).toMatchObject({ queue: 'old', total: 3, counts: { waiting: 2, failed: 1 } });

    const dry = await runCli('dlq', 'replay', '--destination', 'old', '--to', 'hook', '--dry-run', '--json', '--config', after.path);
    expect(JSON.parse(dry.out)).toMatchObject({ moved: 3, dryRun: true });
    expect((await new OrphanQueues(after.p.relay).list()).map((o) => o.total)).toEqual([3]);
    const moved = await runCli('dlq', 'replay', '--destination', 'old', '--to', 'hook', '--json', '--config', after.path);
    expect(moved.code).toBe(0);
    expect(JSON.parse(moved.out)).toMatchObject({ from: 'old', to: 'hook', moved: 3, alreadyThere: 0, inFlight: 0 });
    expect(await new OrphanQueues(after.p.relay).list()).toEqual([]);

    await after.p.startWorkers();
    for (const id of [dead, ...waiting]) {
      const s = await after.p.waitForState(id, 'hook', ['delivered']);
      expect(Object.keys(s.deliveries)).toEqual(['hook']);
    }
    expect(newHook.acceptedIds()).toHaveLength(3);
    expect(newHook.duplicateIds()).toEqual([]);
    const audit = await new LeadAudit(after.p.relay.redis, after.p.relay.keys, { configured: ['hook'] }).run();
    expect(audit.balanced).toBe(true);
    expect(audit.destinations.find((d) => d.destination === 'hook')).toMatchObject({ accepted: 3, delivered: 3 });
  }, 60_000);

  it('purge <orphan>: refuses without --yes, counts with --dry-run, deletes and drops the queue from its leads', async () => {
    const prefix = uniquePrefix('orphan');
    const before = configFile('before.yaml', prefix, '  - { id: gone, type: https, url: "https://127.0.0.1:9/gone" }\n  - { id: kept, type: https, url: "https://127.0.0.1:9/kept" }');
    const ids = [await before.p.accept(marketplaceLead()), await before.p.accept(marketplaceLead())];
    const after = configFile('after.yaml', prefix, '  - { id: kept, type: https, url: "https://127.0.0.1:9/kept" }');

    const refused = await runCli('purge', 'gone', '--config', after.path);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/add --yes/);
    expect(await new OrphanQueues(after.p.relay).list()).toHaveLength(1);
    const notOrphan = await runCli('purge', 'kept', '--yes', '--config', after.path);
    expect(notOrphan.code).toBe(1);
    expect(notOrphan.err).toMatch(/is a destination of the config/);

    const dry = await runCli('purge', 'gone', '--dry-run', '--json', '--config', after.path);
    expect(JSON.parse(dry.out)).toMatchObject({ queue: 'gone', counts: { waiting: 2 }, removed: 0, dryRun: true });
    const done = await runCli('purge', 'gone', '--yes', '--json', '--config', after.path);
    expect(JSON.parse(done.out)).toMatchObject({ queue: 'gone', removed: 2, dryRun: false });
    expect(await new OrphanQueues(after.p.relay).list()).toEqual([]);
    for (const id of ids) expect(Object.keys((await after.p.relay.status(id))!.deliveries)).toEqual(['kept']);
    expect(JSON.parse((await runCli('stats', '--json', '--config', after.path)).out).map((s: { destination: string }) => s.destination)).toEqual(['kept']);
  }, 30_000);

  it('finds and moves orphan queues in the spread (Redis Cluster) key layout too', async () => {
    const prefix = uniquePrefix('orphan');
    const yaml = (destinations: string) => `
redis: { url: "${inject('redisUrl')}", prefix: ${prefix} }
intake: { apiKeys: ["${API_KEY}"] }
destinations:
${destinations}`;
    const before = new Relay(parseConfig(yaml('  - { id: a, type: https, url: "https://127.0.0.1:9/a" }\n  - { id: b, type: https, url: "https://127.0.0.1:9/b" }'), 'before.yaml', { env: {} }), { keyLayout: 'spread' });
    const after = new Relay(parseConfig(yaml('  - { id: b, type: https, url: "https://127.0.0.1:9/b" }\n  - { id: c, type: https, url: "https://127.0.0.1:9/c" }'), 'after.yaml', { env: {} }), { keyLayout: 'spread' });
    try {
      const id = (await before.accept(marketplaceLead(), { clientId: false })).id;
      expect(before.keys.queueKey('a', 'meta')).toMatch(/^\{[^}]+:a\}/);
      const orphans = new OrphanQueues(after);
      expect(await orphans.list()).toEqual([{ queue: 'a', total: 1, counts: { waiting: 1, delayed: 0, active: 0, paused: 0, failed: 0 } }]);
      // `b` already has the lead: moving `a` to it must not queue it twice.
      expect(await orphans.move('a', 'b')).toMatchObject({ moved: 0, alreadyThere: 1 });
      expect(Object.keys((await after.status(id))!.deliveries)).toEqual(['b']);
      expect(await orphans.list()).toEqual([]);
      await orphans.close();
    } finally {
      await before.close();
      await after.close();
    }
  });
});
