import { describe, expect, it } from 'vitest';
import { linkedSignal } from './linked-signal.js';

describe('linkedSignal', () => {
  it('aborts with the reason of the source that aborted', () => {
    const a = new AbortController();
    const b = new AbortController();
    const link = linkedSignal([a.signal, undefined, b.signal]);
    expect(link.signal.aborted).toBe(false);
    b.abort(new Error('shutdown deadline'));
    expect(link.signal.aborted).toBe(true);
    expect((link.signal.reason as Error).message).toBe('shutdown deadline');
  });

  it('is aborted at once when a source already is', () => {
    const a = new AbortController();
    a.abort('gone');
    expect(linkedSignal([a.signal], 10_000).signal.reason).toBe('gone');
  });

  it('aborts with a TimeoutError at its deadline, as AbortSignal.timeout does', async () => {
    const link = linkedSignal([], 20);
    await new Promise((r) => setTimeout(r, 60));
    expect(link.signal.aborted).toBe(true);
    expect((link.signal.reason as DOMException).name).toBe('TimeoutError');
  });

  it('once disposed, neither a source nor the deadline aborts it, and the source keeps no listener', async () => {
    const a = new AbortController();
    let listeners = 0;
    const add = a.signal.addEventListener.bind(a.signal);
    const remove = a.signal.removeEventListener.bind(a.signal);
    a.signal.addEventListener = ((...args: Parameters<typeof add>) => { listeners++; add(...args); }) as typeof add;
    a.signal.removeEventListener = ((...args: Parameters<typeof remove>) => { listeners--; remove(...args); }) as typeof remove;
    const link = linkedSignal([a.signal], 20);
    expect(listeners).toBe(1);
    link.dispose();
    expect(listeners).toBe(0);
    a.abort();
    await new Promise((r) => setTimeout(r, 60));
    expect(link.signal.aborted).toBe(false);
  });
});
