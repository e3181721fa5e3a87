import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '@leadrelay/config';
import { Relay } from '@leadrelay/queue';
import { WebhookReceiver } from '../fakes/webhook-receiver/index.js';
import { uniquePrefix } from '../helpers/index.js';
import { API_KEY, marketplaceLead } from './pipeline-harness.js';

const CLI = join(import.meta.dirname, '../../apps/cli/bin/leadrelay.js');

function startWorker(configPath: string): ChildProcess {
  return spawn(process.execPath, [CLI, 'worker', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } });
}

/** A worker killed mid-run (SIGKILL: no cleanup at all) loses no lead; another worker finishes the run (README: How delivery behaves, Shutdown). */
describe('worker crash', () => {
  const children: ChildProcess[] = [];
  let receiver: WebhookReceiver;
  let relay: Relay;
  afterEach(async () => {
    for (const c of children) c.kill('SIGKILL');
    await relay?.close();
    await receiver?.stop();
  });

  /** Writes a config for one webhook destination at the receiver and opens a Relay on it; returns the file. */
  async function setup(workerExtra: string, topExtra: string, concurrency: number, destinationExtra = ''): Promise<string> {
    const yaml = `
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('crash')} }
intake: { apiKeys: ["${API_KEY}"] }
worker: { metricsPort: 0, ${workerExtra === 'defaults' ? '' : `lockDuration: 2s, ${workerExtra}`} }
${topExtra}
destinations:
  - { id: hook, type: https, url: "${receiver.url('/hook')}", concurrency: ${concurrency}${destinationExtra ? `, ${destinationExtra}` : ''} }
`;
    const configPath = join(mkdtempSync(join(tmpdir(), 'leadrelay-crash-')), 'leadrelay.yaml');
    writeFileSync(configPath, yaml);
    relay = new Relay(parseConfig(yaml, configPath, { env: {} }));
    return configPath;
  }

  async function acceptLeads(n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await relay.accept(marketplaceLead(), { clientId: false })).id);
    return ids;
  }

  it('delivers every accepted lead after SIGKILL of the worker, duplicates only with the same webhook-id', async () => {
    receiver = await WebhookReceiver.start({ defaultReply: { status: 200, delayMs: 15 } });
    const configPath = await setup('shutdownTimeout: 2s', 'retry: { attempts: 5, initialDelay: 100ms, maxDelay: 1s }', 8);
    const ids = await acceptLeads(300);

    const first = startWorker(configPath);
    children.push(first);
    await receiver.waitForAccepted(60, 30_000);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    children.push(startWorker(configPath));
    await receiver.waitForAccepted(300, 60_000);

    for (const id of ids) {
      const s = await relay.status(id);
      expect(s?.deliveries.hook?.state === 'delivered' || receiver.acceptedIds().length === 300).toBe(true);
    }
    expect(receiver.acceptedIds()).toHaveLength(300);
    expect(await relay.deadLetters({})).toHaveLength(0);
    // Redelivered leads (in flight at the kill) carry the same webhook-id: receivers can deduplicate.
    const byLead = new Map<string, Set<string>>();
    for (const r of receiver.requests) {
      const email = (r.json as { UserDetails: { Email: string } }).UserDetails.Email;
      byLead.set(email, (byLead.get(email) ?? new Set()).add(r.webhookId!));
    }
    expect([...byLead.values()].every((s) => s.size === 1)).toBe(true);
  }, 120_000);

  it('on SIGTERM finishes active deliveries within worker.shutdownTimeout and exits 0; the rest wait for the next worker', async () => {
    receiver = await WebhookReceiver.start({ defaultReply: { status: 200, delayMs: 800 } });
    const configPath = await setup('shutdownTimeout: 10s', '', 2);
    const ids = await acceptLeads(10);

    const worker = startWorker(configPath);
    children.push(worker);
    await receiver.waitFor((r) => r.requestCount >= 1, 30_000);
    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    // What was in flight finished; nothing was dead-lettered or lost.
    expect(receiver.requests.filter((r) => r.outcome === 'client-closed')).toHaveLength(0);
    const states = await Promise.all(ids.map(async (id) => (await relay.status(id))?.deliveries.hook?.state));
    expect(states.filter((s) => s === 'delivered').length).toBe(receiver.acceptedIds().length);
    expect(states.every((s) => s === 'delivered' || s === 'queued')).toBe(true);

    children.push(startWorker(configPath));
    await receiver.waitForAccepted(10, 60_000);
    expect(await relay.deadLetters({})).toHaveLength(0);
  }, 120_000);

  it('on SIGTERM with a destination that never answers, aborts at worker.shutdownTimeout, releases the deliveries to waiting and exits 0', async () => {
    receiver = await WebhookReceiver.start({ defaultReply: { status: 200, delayMs: 120_000 } });
    // A destination timeout far beyond the shutdown deadline: only the abort can end the calls in time.
    const yaml = await setup('shutdownTimeout: 2s', '', 2, 'timeout: 60s');
    const ids = await acceptLeads(4);
    const worker = startWorker(yaml);
    children.push(worker);
    // The receiver's waiters run on completed requests; these never complete, so poll.
    for (const until = Date.now() + 30_000; receiver.requestCount < 2 && Date.now() < until;) await new Promise((r) => setTimeout(r, 20));
    expect(receiver.requestCount).toBe(2);
    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    const signalled = Date.now();
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    const stopMs = Date.now() - signalled;
    console.log(`SIGTERM with a hung destination: exited 0 after ${stopMs} ms (shutdownTimeout 2000 ms)`);
    expect(stopMs).toBeLessThan(3000 + 1000);
    // Nothing lost, nothing dead, no attempt used: every delivery waits for the next worker.
    const jobs = await Promise.all(ids.map((id) => relay.queue('hook').getJob(relay.keys.jobId('hook', id))));
    expect(await Promise.all(jobs.map((j) => j!.getState()))).toEqual(['waiting', 'waiting', 'waiting', 'waiting']);
    expect(jobs.map((j) => j!.attemptsMade)).toEqual([0, 0, 0, 0]);
    expect(await relay.deadLetters({})).toHaveLength(0);

    receiver.setDefaultReply({ status: 200 });
    children.push(startWorker(yaml));
    await receiver.waitForAccepted(4, 60_000);
    // The receiver answers before the worker records the delivery: wait for the record, not only the request.
    for (const until = Date.now() + 10_000; Date.now() < until;) {
      const states = await Promise.all(ids.map(async (id) => (await relay.status(id))!.deliveries.hook?.state));
      if (states.every((st) => st === 'delivered')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const id of ids) expect((await relay.status(id))!.deliveries.hook).toMatchObject({ state: 'delivered', attempts: 1 });
  }, 120_000);

  it('with the default lockDuration, every lead of a SIGKILLed worker is back and delivered within 30 s of the restart', async () => {
    receiver = await WebhookReceiver.start({ defaultReply: { status: 200, delayMs: 15 } });
    const configPath = await setup('defaults', 'retry: { attempts: 5, initialDelay: 100ms, maxDelay: 1s }', 300);
    await acceptLeads(300);
    const first = startWorker(configPath);
    children.push(first);
    // Hung calls keep ~all 300 in flight at the kill.
    receiver.setDefaultReply({ status: 200, delayMs: 120_000 });
    for (const until = Date.now() + 30_000; receiver.requestCount < 250 && Date.now() < until;) await new Promise((r) => setTimeout(r, 20));
    const inFlight = receiver.requestCount;
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    receiver.setDefaultReply({ status: 200, delayMs: 15 });
    const restarted = Date.now();
    children.push(startWorker(configPath));
    await receiver.waitForAccepted(300, 40_000);
    const recoveryMs = Date.now() - restarted;
    console.log(`SIGKILL with ${inFlight} in flight: all 300 delivered ${recoveryMs} ms after the restart`);
    expect(recoveryMs).toBeLessThan(30_000);
    expect(await relay.deadLetters({})).toHaveLength(0);
  }, 120_000);
});
