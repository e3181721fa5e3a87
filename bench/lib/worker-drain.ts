import type { Lead } from '@leadrelay/core';
import type { DestinationStats, Relay } from '@leadrelay/queue';
import { mapLimit, pollUntil, startCli, type BenchConfig } from './bench-env.js';
import type { NodeChild } from './node-child.js';

/** One `leadrelay worker` process: its config file (same Redis prefix for all) and its worker.metricsPort. */
export interface WorkerProcess {
  cfg: BenchConfig;
  metricsPort: number;
}

export interface WorkerDrainOptions {
  relay: Relay;
  destination: string;
  leads: Lead[];
  /** Worker processes to run (scale-out shares one Redis); each is ready once its /readyz answers. */
  workers: WorkerProcess[];
  timeoutMs: number;
  /** Called about every second while draining (progress lines for long benchmarks). */
  onProgress?: (stats: DestinationStats, elapsedMs: number) => void;
}

export interface WorkerDrainResult {
  /** Resume → every lead delivered or dead (NaN when it timed out). */
  drainMs: number;
  timedOut: boolean;
  stats: DestinationStats;
  /** Highest VmHWM of the worker processes. */
  peakRssMiB: number;
  /** CPU of all worker processes during the drain, per lead. */
  cpuMsPerLead: number;
}

/**
 * Accepts the leads into the destination's paused queue (as intake would), starts the `leadrelay worker`
 * processes, resumes the queue once every worker is ready and times the drain: until the destination's
 * delivered + dead counts reach the number of leads, a worker exits, or the time is up.
 */
export async function drainWithWorker(o: WorkerDrainOptions): Promise<WorkerDrainResult> {
  const queue = o.relay.queue(o.destination);
  await queue.pause();
  await mapLimit(o.leads, 32, (lead) => o.relay.accept(lead, { clientId: false }));
  const children: NodeChild[] = [];
  try {
    o.workers.forEach((w, i) => children.push(startCli(`leadrelay worker #${i + 1}`, 'worker', w.cfg)));
    await Promise.all(children.map((c, i) => c.waitForHttp(`http://127.0.0.1:${o.workers[i]!.metricsPort}/readyz`, 30_000)));
    const cpu = () => children.reduce((s, c) => s + c.cpuSeconds(), 0);
    const cpuBefore = cpu();
    const started = performance.now();
    await queue.resume();
    let stats = await o.relay.stats(o.destination);
    let lastProgress = started;
    const done = await pollUntil(async () => {
      for (const c of children) c.assertRunning();
      stats = await o.relay.stats(o.destination);
      if (o.onProgress && performance.now() - lastProgress >= 1000) {
        lastProgress = performance.now();
        o.onProgress(stats, lastProgress - started);
      }
      return stats.delivered + stats.dead >= o.leads.length;
    }, o.timeoutMs, 50);
    const drainMs = performance.now() - started;
    const cpuMsPerLead = (1000 * (cpu() - cpuBefore)) / o.leads.length;
    for (const c of children) c.sample();
    return { drainMs: done ? drainMs : NaN, timedOut: !done, stats, peakRssMiB: Math.max(...children.map((c) => c.peak.peakMiB)), cpuMsPerLead };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}
