import { afterEach, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { uniquePrefix } from '../../../test/helpers/unique.js';
import { KeySpace } from './key-space.js';
import { RedisKeyLocks } from './redis-key-locks.js';

describe('RedisKeyLocks', () => {
  const conns: Redis[] = [];
  afterEach(async () => { await Promise.all(conns.splice(0).map((c) => c.quit())); });

  function locks(prefix: string): RedisKeyLocks {
    const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
    conns.push(redis);
    const keys = new KeySpace(prefix);
    return new RedisKeyLocks(redis as never, (k) => keys.keyLock('mkto', 'lookup', k));
  }

  it('a key held by one connection is not given to another until released; keys free are taken', async () => {
    const prefix = uniquePrefix('locks');
    const [a, b] = [locks(prefix), locks(prefix)];
    const first = await a.tryAcquire(['x', 'y'], 10_000);
    expect([...first.held].sort()).toEqual(['x', 'y']);
    const second = await b.tryAcquire(['y', 'z'], 10_000);
    expect([...second.held]).toEqual(['z']);
    await first.release();
    const third = await b.tryAcquire(['x', 'y'], 10_000);
    expect([...third.held].sort()).toEqual(['x', 'y']);
    await Promise.all([second.release(), third.release()]);
  });

  it('a holder that never releases (a crashed worker) frees its keys after the TTL; a stale release frees nothing', async () => {
    const prefix = uniquePrefix('locks');
    const [a, b] = [locks(prefix), locks(prefix)];
    const crashed = await a.tryAcquire(['x'], 150);
    expect((await b.tryAcquire(['x'], 10_000)).held.size).toBe(0);
    // The holder's process is gone: its renewals stop reaching Redis.
    const holderConnection = conns[0]!;
    holderConnection.disconnect();
    await new Promise((r) => setTimeout(r, 250));
    const taken = await b.tryAcquire(['x'], 10_000);
    expect([...taken.held]).toEqual(['x']);
    await holderConnection.connect();
    await crashed.release(); // the old holder's token no longer matches: b keeps it
    expect((await a.tryAcquire(['x'], 10_000)).held.size).toBe(0);
    await taken.release();
  });

  it('a live holder keeps its keys past the TTL (the lease renews itself) until it releases', async () => {
    const prefix = uniquePrefix('locks');
    const [a, b] = [locks(prefix), locks(prefix)];
    const lease = await a.tryAcquire(['x'], 300);
    await new Promise((r) => setTimeout(r, 900));
    expect((await b.tryAcquire(['x'], 10_000)).held.size, 'taken from a live holder').toBe(0);
    await lease.release();
    const after = await b.tryAcquire(['x'], 10_000);
    expect([...after.held]).toEqual(['x']);
    await after.release();
  });
});
