import type { LeadRelayMetrics } from '@leadrelay/observability';
import type { Relay } from './relay.js';
import { withTimeout } from './with-timeout.js';

const STATES = ['waiting', 'active', 'delayed', 'failed', 'paused'] as const;

/**
 * Makes `leadrelay_queue_jobs` and `leadrelay_destination_paused` read Redis on every scrape, so
 * any process (intake, worker, ops) reports the shared truth rather than its own counters.
 */
export function exposeQueueMetrics(relay: Relay, metrics: LeadRelayMetrics, options: QueueMetricsOptions = {}): void {
  const { timeoutMs = 2000, onError } = options;
  metrics.refreshFromRedis = () => withTimeout(readQueues(relay, metrics), timeoutMs).catch((e: unknown) => onError?.(e));
}

export interface QueueMetricsOptions {
  /** Longest a scrape waits for Redis (default 2 s): /metrics must answer while Redis is down, when it matters most. */
  timeoutMs?: number;
  /** Told when the gauges could not be refreshed (they keep their last values). */
  onError?: (e: unknown) => void;
}

async function readQueues(relay: Relay, metrics: LeadRelayMetrics): Promise<void> {
  await Promise.all(relay.config.destinations.map(async (d) => {
    const q = relay.queue(d.id);
    const [counts, paused] = await Promise.all([q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed'), q.isPaused()]);
    const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
    for (const state of STATES) {
      const value = state === 'waiting' ? (paused ? 0 : waiting) : state === 'paused' ? (paused ? waiting : 0) : (counts[state] ?? 0);
      metrics.queueJobs.set({ destination: d.id, state }, value);
    }
    metrics.destinationPaused.set({ destination: d.id }, paused ? 1 : 0);
  }));
}
