import type { LeadRelayMetrics } from '@leadrelay/observability';
import type { Relay } from './relay.js';

const STATES = ['waiting', 'active', 'delayed', 'failed', 'paused'] as const;

/**
 * Makes `leadrelay_queue_jobs` and `leadrelay_destination_paused` read Redis on every scrape, so
 * any process (intake, worker, ops) reports the shared truth rather than its own counters.
 */
export function exposeQueueMetrics(relay: Relay, metrics: LeadRelayMetrics): void {
  metrics.refreshFromRedis = async () => {
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
  };
}
