import { describe, expect, it } from 'vitest';
import { settlesWithin } from './settles-within.js';

describe('settlesWithin', () => {
  it('is true for a promise that resolves or rejects in time, false for one that does not', async () => {
    expect(await settlesWithin(Promise.resolve(1), 1000)).toBe(true);
    expect(await settlesWithin(Promise.reject(new Error('closed with an error')), 1000)).toBe(true);
    expect(await settlesWithin(new Promise(() => undefined), 20)).toBe(false);
    expect(await settlesWithin(new Promise((r) => setTimeout(r, 200)), 20)).toBe(false);
  });
});
