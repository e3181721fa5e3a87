import { afterAll, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { uniquePrefix } from '../../../test/helpers/unique.js';
import { scanKeys } from './scan-keys.js';

describe('scanKeys', () => {
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
  const noise = uniquePrefix('scan-noise');
  const wanted = uniquePrefix('scan-wanted');
  afterAll(async () => {
    for await (const batch of scanKeys(redis as never, `${noise}*`)) await redis.del(...batch);
    for await (const batch of scanKeys(redis as never, `${wanted}*`)) await redis.del(...batch);
    await redis.quit();
  });

  it('walks a shared keyspace in large steps even when the caller asks for small batches', async () => {
    // A Redis shared with other data: 5000 keys that are not ours, 3 that are.
    const pipe = redis.pipeline();
    for (let i = 0; i < 5000; i++) pipe.set(`${noise}:${i}`, '1', 'EX', 600);
    for (let i = 0; i < 3; i++) pipe.set(`${wanted}:${i}`, '1', 'EX', 600);
    await pipe.exec();

    let trips = 0;
    const counting = new Proxy(redis, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop !== 'scan') return value;
        return (...args: unknown[]) => { trips++; return (value as (...a: unknown[]) => unknown).apply(target, args); };
      },
    });
    const found: string[] = [];
    for await (const batch of scanKeys(counting as never, `${wanted}*`, 2)) found.push(...batch);

    expect(new Set(found)).toEqual(new Set([0, 1, 2].map((i) => `${wanted}:${i}`)));
    // COUNT is how much of the keyspace one trip walks: a batch size of 2 must not mean one trip per 2 keys.
    const size = await redis.dbsize();
    expect(trips).toBeLessThanOrEqual(Math.ceil(size / 1000) * 3 + 2);
  });
});
