import { describe, expect, it } from 'vitest';
import { runUntilSignal, type Stoppable } from './running-service.js';

/** A part whose start resolves when the test says so, and which records being stopped. */
function slowPart(): { start: () => Promise<Stoppable>; finishStart: () => void; stopped: () => boolean; signalledAt: () => number | undefined } {
  let finishStart!: () => void;
  let stopped = false;
  let signalledAt: number | undefined;
  const started = new Promise<void>((r) => { finishStart = r; });
  return {
    start: async () => { await started; return { stop: async (at?: number) => { stopped = true; signalledAt = at; } }; },
    finishStart,
    stopped: () => stopped,
    signalledAt: () => signalledAt,
  };
}

const tick = () => new Promise((r) => setTimeout(r, 10));

describe('runUntilSignal', () => {
  it('a SIGTERM that arrives while a part is still starting stops every part once the start finishes', async () => {
    const first = slowPart();
    const second = slowPart();
    first.finishStart();
    const run = runUntilSignal([first.start, second.start], { exitAfterStop: false });
    await tick();
    // The worker is already taking jobs here, its start not finished: the signal must be caught, not lost.
    expect(process.listenerCount('SIGTERM')).toBeGreaterThan(0);
    const signalled = Date.now();
    process.emit('SIGTERM');
    await new Promise((r) => setTimeout(r, 150));
    second.finishStart();
    await run;
    expect(first.stopped()).toBe(true);
    expect(second.stopped()).toBe(true);
    // Each part is told when the signal came (a worker's shutdown deadline runs from it), not when its start ended.
    for (const part of [first, second]) expect(Math.abs(part.signalledAt()! - signalled)).toBeLessThan(50);
  });

  it('stops the parts already started when a later one fails to start, and removes its handlers', async () => {
    const first = slowPart();
    first.finishStart();
    const before = process.listenerCount('SIGTERM');
    const run = runUntilSignal([first.start, async () => { throw new Error('port in use'); }], { exitAfterStop: false });
    await expect(run).rejects.toThrow('port in use');
    expect(first.stopped()).toBe(true);
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it('runs until the signal, then stops', async () => {
    const part = slowPart();
    part.finishStart();
    let done = false;
    const run = runUntilSignal([part.start], { exitAfterStop: false }).then(() => { done = true; });
    await tick();
    expect(done).toBe(false);
    expect(part.stopped()).toBe(false);
    process.emit('SIGINT');
    await run;
    expect(part.stopped()).toBe(true);
  });
});
