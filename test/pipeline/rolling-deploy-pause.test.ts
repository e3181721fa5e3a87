import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '@leadrelay/config';
import { configHash } from '@leadrelay/delivery';
import { Relay } from '@leadrelay/queue';
import { WebhookReceiver } from '../fakes/webhook-receiver/index.js';
import { LeadRelayProcesses } from '../helpers/leadrelay-process.js';
import { freePort, uniquePrefix } from '../helpers/index.js';
import { API_KEY, marketplaceLead } from './pipeline-harness.js';

const GOOD = 'whsec_' + Buffer.from('rolling-deploy-good-secret-0001').toString('base64');
const BAD = 'whsec_' + Buffer.from('rolling-deploy-stale-secret-001').toString('base64');
const LATER_LEADS = 10;

/**
 * A rolling deploy: a worker with the old config (a wrong signing secret) paused the destination; a
 * worker with the fixed config resumes it. The old worker, still running, must not pause it again:
 * its configuration was superseded, so it stops taking that destination's jobs.
 */
describe('rolling deploy: a configuration pause is tied to the config hash that caused it', () => {
  const processes = new LeadRelayProcesses();
  let dir = '';
  let receiver: WebhookReceiver | undefined;
  let relay: Relay | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'leadrelay-rolling-'));
  });
  afterEach(async () => {
    await processes.killAll();
    await relay?.close();
    await receiver?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const config = (prefix: string, secret: string) => `
redis: { url: "${inject('redisUrl')}", prefix: ${prefix} }
intake: { apiKeys: ["${API_KEY}"] }
worker: { host: 127.0.0.1, metricsPort: \${LEADRELAY_METRICS_PORT:-0} }
retry: { attempts: 3, initialDelay: 100ms, maxDelay: 1s }
destinations:
  - { id: hook, type: https, url: "${receiver!.url('/hook')}", signingSecret: "${secret}", concurrency: 2 }
`;

  const startWorker = async (path: string, name: string) => {
    const port = await freePort();
    const w = processes.start(['worker', '--config', path], { name, env: { LEADRELAY_METRICS_PORT: String(port) } });
    await w.waitReady(port);
    return w;
  };

  it('an old worker with a bad secret does not re-pause a destination a new worker resumed and delivers', async () => {
    receiver = await WebhookReceiver.start({ signingSecret: GOOD, rejectInvalidSignatures: true });
    const prefix = uniquePrefix('rolling');
    const oldPath = join(dir, 'old.yaml');
    const newPath = join(dir, 'new.yaml');
    writeFileSync(oldPath, config(prefix, BAD));
    writeFileSync(newPath, config(prefix, GOOD));
    relay = new Relay(parseConfig(config(prefix, GOOD), newPath, { env: {} }));

    const old = await startWorker(oldPath, 'old-worker');
    const first = (await relay.accept(marketplaceLead(), { clientId: false })).id;
    for (const until = Date.now() + 20_000; (await relay.stats('hook')).state !== 'paused' && Date.now() < until;) await new Promise((r) => setTimeout(r, 100));
    const paused = await relay.stats('hook');
    expect(paused.state).toBe('paused');
    expect(paused.pausedBy).toBe('configuration');

    // The fixed config rolls out while the old worker keeps running.
    await startWorker(newPath, 'new-worker');
    const ids = [first];
    for (let i = 0; i < LATER_LEADS; i++) ids.push((await relay.accept(marketplaceLead(), { clientId: false })).id);

    await receiver.waitForAccepted(ids.length, 30_000).catch(() => undefined);
    expect((await relay.stats('hook')).state).not.toBe('paused');
    expect(receiver.acceptedIds()).toHaveLength(ids.length);
    expect(receiver.duplicateIds()).toEqual([]);
    for (const id of ids) expect((await relay.status(id))!.deliveries.hook!.state).toBe('delivered');
    expect(await relay.deadLetters({})).toHaveLength(0);
    // The old worker's configuration is recorded as superseded (it takes none of the destination's jobs),
    // the new one's is not, and the old worker kept running.
    const hashOf = (yaml: string, path: string) => configHash(parseConfig(yaml, path, { env: {} }).destinations[0]!);
    expect(await relay.control('hook').isSuperseded(hashOf(config(prefix, BAD), oldPath))).toBe(true);
    expect(await relay.control('hook').isSuperseded(hashOf(config(prefix, GOOD), newPath))).toBe(false);
    expect(old.running).toBe(true);
    // A few refused requests at most: the old worker's calls in flight when it learned it was superseded.
    expect(receiver.requests.filter((r) => r.outcome === 401).length).toBeLessThanOrEqual(4);
  }, 120_000);

  it('a new worker started before the old one fails lifts that pause within the check interval', async () => {
    receiver = await WebhookReceiver.start({ signingSecret: GOOD, rejectInvalidSignatures: true });
    const prefix = uniquePrefix('rolling');
    const oldPath = join(dir, 'old2.yaml');
    const newPath = join(dir, 'new2.yaml');
    writeFileSync(oldPath, config(prefix, BAD));
    writeFileSync(newPath, config(prefix, GOOD));
    relay = new Relay(parseConfig(config(prefix, GOOD), newPath, { env: {} }));
    await Promise.all([startWorker(newPath, 'new-worker'), startWorker(oldPath, 'old-worker')]);
    const ids: string[] = [];
    for (let i = 0; i < LATER_LEADS; i++) ids.push((await relay.accept(marketplaceLead(), { clientId: false })).id);
    await receiver.waitForAccepted(ids.length, 30_000).catch(() => undefined);
    expect(receiver.acceptedIds()).toHaveLength(ids.length);
    expect(receiver.duplicateIds()).toEqual([]);
    expect((await relay.stats('hook')).state).not.toBe('paused');
  }, 120_000);
});
