import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startInbox } from '@leadrelay/inbox';
import { startIntake } from '@leadrelay/intake';
import { createRuntime, type RunningService } from '@leadrelay/observability';
import { startOps } from '@leadrelay/ops';
import { startWorker } from '@leadrelay/worker';
import { pipelineConfig } from '../pipeline/pipeline-harness.js';

/**
 * One app shape: every start function returns a RunningService (name, address, stop) whose address serves the
 * same probes, and whose stop is idempotent and leaves nothing listening.
 */
describe('every app is a RunningService', () => {
  const config = pipelineConfig(`
  - { id: hook, type: https, url: "http://127.0.0.1:9/hook" }`, `
ops: { host: 127.0.0.1, port: 0, password: "ops-password-for-tests" }`);
  config.worker.host = '127.0.0.1';
  config.worker.metricsPort = 0;
  /** Lines each app logged, parsed: its start line is checked below. */
  const logged = new Map<string, Record<string, unknown>[]>();
  const silent = (name: string) => {
    const lines: Record<string, unknown>[] = [];
    logged.set(name, lines);
    const destination = new Writable({ write(chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l)); done(); } });
    return createRuntime({ name, secretsFrom: config, level: 'info', destination });
  };

  const starters: Array<[string, () => Promise<RunningService>]> = [
    ['intake', () => startIntake({ config, host: '127.0.0.1', port: 0, runtime: silent('intake') })],
    ['worker', () => startWorker({ config, runtime: silent('worker') })],
    ['ops', () => startOps({ config, runtime: silent('ops') })],
    ['inbox', () => startInbox({ INBOX_PORT: '0', INBOX_HOST: '127.0.0.1' }, { logger: false })],
  ];

  it.each(starters)('%s: named, listening at its address with the shared probes, stopped twice without error, then gone', async (name, start) => {
    const running = await start();
    expect(running.name).toBe(name);
    expect(running.address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${running.address}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    // The same probes everywhere; the inbox is a demo receiver without Redis, so its readiness has no redis check.
    const ready = await fetch(`${running.address}/readyz`);
    expect(await ready.json()).toEqual({ status: 'ready', checks: name === 'inbox' ? { config: 'ok' } : { config: 'ok', redis: 'ok' } });
    const metrics = await fetch(`${running.address}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await metrics.text()).toMatch(name === 'inbox' ? /^leadrelay_inbox_process_cpu_seconds_total /m : /^leadrelay_process_cpu_seconds_total /m);
    if (name !== 'inbox') {
      // One start line, the same shape for every app.
      expect(logged.get(name)!.filter((l) => l.msg === `${name} started`)).toEqual([expect.objectContaining({ app: name, address: running.address })]);
    }
    await Promise.all([running.stop(), running.stop()]);
    await running.stop();
    await expect(fetch(`${running.address}/healthz`)).rejects.toThrow();
  });
});
