import { afterEach, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { uniquePrefix } from '../../../test/helpers/unique.js';
import { WriteCoalescer } from './write-coalescer.js';

/** Counts the socket writes a connection makes (Node's Writable hands each one to _write or _writev). */
function countWrites(redis: Redis): { count(): number } {
  const stream = (redis as unknown as { stream: { _write: (...a: unknown[]) => void; _writev?: (...a: unknown[]) => void } }).stream;
  let n = 0;
  const write = stream._write.bind(stream);
  stream._write = (...a: unknown[]) => { n++; write(...a); };
  if (stream._writev) {
    const writev = stream._writev.bind(stream);
    stream._writev = (...a: unknown[]) => { n++; writev(...a); };
  }
  return { count: () => n };
}

describe('WriteCoalescer', () => {
  const conns: Redis[] = [];
  afterEach(async () => { await Promise.all(conns.splice(0).map((c) => c.quit())); });

  async function connection(): Promise<Redis> {
    const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
    conns.push(redis);
    await redis.ping();
    return redis;
  }

  /** Sends `n` INCRs in one event-loop turn, each held first when a coalescer is given; answers the replies. */
  function incrs(redis: Redis, key: string, n: number, coalescer?: WriteCoalescer): Promise<number[]> {
    const replies: Promise<number>[] = [];
    for (let i = 0; i < n; i++) {
      coalescer?.hold();
      replies.push(redis.incr(key));
    }
    return Promise.all(replies);
  }

  it('commands sent in one turn leave in batches of `batch`, each answered in order', async () => {
    const key = `${uniquePrefix('coalesce')}:n`;
    const plain = await connection();
    const plainWrites = countWrites(plain);
    await incrs(plain, `${key}:plain`, 20);
    expect(plainWrites.count()).toBe(20);

    const held = await connection();
    const heldWrites = countWrites(held);
    const replies = await incrs(held, key, 20, new WriteCoalescer(held, { batch: 8 }));
    expect(replies).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // 8 + 8 in full batches, the last 4 when the turn ends.
    expect(heldWrites.count()).toBe(3);
    await held.del(key, `${key}:plain`);
  });

  it('a lone command is not held past the end of its turn, and later turns are batched afresh', async () => {
    const key = `${uniquePrefix('coalesce')}:lone`;
    const redis = await connection();
    const writes = countWrites(redis);
    const coalescer = new WriteCoalescer(redis);
    expect(await incrs(redis, key, 1, coalescer)).toEqual([1]);
    expect(await incrs(redis, key, 3, coalescer)).toEqual([2, 3, 4]);
    expect(writes.count()).toBe(2);
    await redis.del(key);
  });

  it('holds nothing while the connection is not ready (ioredis queues the commands itself)', async () => {
    const key = `${uniquePrefix('coalesce')}:offline`;
    const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
    conns.push(redis);
    expect(redis.status).not.toBe('ready');
    const coalescer = new WriteCoalescer(redis);
    coalescer.hold();
    expect(await redis.incr(key)).toBe(1);
    expect((redis as unknown as { stream: { writableCorked: number } }).stream.writableCorked).toBe(0);
    await redis.del(key);
  });
});
