import type { Relay } from '../../packages/queue/src/index.js';
import type { SourceService } from '../../packages/sources/src/source-service.js';

/** Adds a poll of one source and waits for it: 'completed', or the reason it failed. */
export async function runPoll(service: SourceService, sourceId: string): Promise<'completed' | string> {
  const job = await service.pollNow(sourceId);
  for (;;) {
    const state = await job.getState();
    if (state === 'completed') return state;
    if (state === 'failed') return (await service.queue.getJob(job.id!))?.failedReason ?? 'failed';
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every job a destination's queue holds, whatever its state: how many leads were queued there. */
export async function queuedCount(relay: Relay, destination: string): Promise<number> {
  const c = await relay.queue(destination).getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed');
  return Object.values(c).reduce((a, b) => a + b, 0);
}

/** Closes a source service and its relay. */
export async function closeSources(h: { service: SourceService; relay: Relay }): Promise<void> {
  await h.service.close();
  await h.relay.close();
}
