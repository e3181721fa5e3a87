import type { KeyLease, KeyLocks } from '../destination.js';

/**
 * KeyLocks held in this process only: for `leadrelay check`, unit tests and a context without Redis. A key
 * is held until released (its holder can only die with the process that holds the map), so `ttlMs` is unused.
 */
export class MemoryKeyLocks implements KeyLocks {
  private readonly holders = new Map<string, { owner: symbol }>();

  async tryAcquire(keys: string[], _ttlMs: number): Promise<KeyLease> {
    const owner = Symbol('lease');
    const held = new Set<string>();
    for (const key of keys) {
      const h = this.holders.get(key);
      if (h) continue;
      this.holders.set(key, { owner });
      held.add(key);
    }
    return {
      held,
      release: async () => {
        for (const key of held) if (this.holders.get(key)?.owner === owner) this.holders.delete(key);
      },
    };
  }
}
