import type { Relay } from '@leadrelay/queue';
import { SourceState, type SourceHealth } from './source-state.js';
import { timestampMs } from './source-timestamps.js';

/** One source's state in Redis, for any process (CLI, ops, worker). */
export function sourceState(relay: Relay, sourceId: string): SourceState {
  return new SourceState(relay.redis, relay.keys.source(sourceId), sourceId);
}

/** Health of every configured source, with its lag (now minus how far it has been read) in seconds. */
export async function readSourceHealth(relay: Relay, now = Date.now()): Promise<(SourceHealth & { lagSeconds?: number })[]> {
  return Promise.all(relay.config.sources.map(async (s) => {
    const h = await sourceState(relay, s.id).health(s.type, s.enabled);
    const at = h.caughtUpTo ?? h.watermark?.ts;
    return at ? { ...h, lagSeconds: Math.max(0, Math.round((now - timestampMs(at)) / 100) / 10) } : h;
  }));
}
