import { RetryableError, type Lead } from '@leadrelay/core';
import type { BatchItemResult, BatchingOptions } from '@leadrelay/destinations';

interface Pending {
  lead: Lead;
  resolve(r: BatchItemResult): void;
  reject(e: unknown): void;
}

interface OpenBatch {
  items: Pending[];
  timer: NodeJS.Timeout;
}

/**
 * Collects leads handed over by concurrent job processors into batch calls: a batch goes out when
 * it holds `maxSize` leads or its first lead has waited `maxWaitMs`. Each lead's promise settles
 * with its own result; a whole-call failure rejects every lead of that call.
 */
export class Batcher {
  private readonly open = new Map<string, OpenBatch>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: BatchingOptions, private readonly send: (leads: Lead[]) => Promise<BatchItemResult[]>) {}

  submit(lead: Lead): Promise<BatchItemResult> {
    return new Promise((resolve, reject) => {
      const key = this.options.key?.(lead) ?? '';
      let batch = this.open.get(key);
      if (!batch) {
        batch = { items: [], timer: setTimeout(() => this.flush(key), this.options.maxWaitMs) };
        this.open.set(key, batch);
      }
      batch.items.push({ lead, resolve, reject });
      if (batch.items.length >= this.options.maxSize) this.flush(key);
    });
  }

  /** Sends every open batch now (used when the worker shuts down) and waits for calls in flight. */
  async drain(): Promise<void> {
    for (const key of [...this.open.keys()]) this.flush(key);
    await Promise.allSettled([...this.inFlight]);
  }

  private flush(key: string): void {
    const batch = this.open.get(key);
    if (!batch) return;
    this.open.delete(key);
    clearTimeout(batch.timer);
    const call = this.send(batch.items.map((i) => i.lead)).then(
      (results) => batch.items.forEach((item, i) => item.resolve(results[i] ?? { ok: false, error: new RetryableError('the destination returned no result for this lead') })),
      (error) => batch.items.forEach((item) => item.reject(error)),
    );
    const tracked = call.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }
}
