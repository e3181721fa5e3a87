import { describe, expect, it } from 'vitest';
import { PayloadValidationError, type Lead } from '@leadrelay/core';
import { jitteredBackoff } from './backoff.js';
import { Batcher } from './batcher.js';

const lead = (id: string, offer = 'a.b'): Lead => ({ id, source: 'S', action: 'A', offer, customer: {}, createdAt: '2024-01-01T00:00:00Z', testLead: false });

describe('Batcher', () => {
  it('sends full batches at once, keeps keys apart, and settles each lead with its own result', async () => {
    const calls: string[][] = [];
    const b = new Batcher({ maxSize: 2, maxWaitMs: 10_000, key: (l) => l.offer }, async (leads) => {
      calls.push(leads.map((l) => l.id));
      return leads.map((l) => (l.id === 'x2' ? { ok: false as const, error: new PayloadValidationError('bad') } : { ok: true as const, remoteId: `r-${l.id}` }));
    });
    const results = await Promise.all([b.submit(lead('x1')), b.submit(lead('y1', 'c.d')), b.submit(lead('x2')), b.submit(lead('y2', 'c.d'))]);
    expect(calls).toEqual([['x1', 'x2'], ['y1', 'y2']]);
    expect(results.map((r) => r.ok)).toEqual([true, true, false, true]);
    expect(results[0]).toEqual({ ok: true, remoteId: 'r-x1' });
  });

  it('sends a partial batch after maxWaitMs, and a whole-call failure rejects every lead of it', async () => {
    const b = new Batcher({ maxSize: 100, maxWaitMs: 20 }, async () => { throw new Error('down'); });
    await expect(Promise.all([b.submit(lead('1')), b.submit(lead('2'))])).rejects.toThrow('down');
  });
});

describe('jitteredBackoff', () => {
  it('doubles from initialDelay, keeps half fixed and half random, and caps at maxDelay', () => {
    const o = { initialDelay: 1000, maxDelay: 10_000 };
    expect([1, 2, 3].map((n) => jitteredBackoff(n, o, () => 0))).toEqual([500, 1000, 2000]);
    expect([1, 2, 3].map((n) => jitteredBackoff(n, o, () => 1))).toEqual([1000, 2000, 4000]);
    expect(jitteredBackoff(30, o, () => 1)).toBe(10_000);
    expect(jitteredBackoff(30, o, () => 0)).toBe(5000);
  });
});
