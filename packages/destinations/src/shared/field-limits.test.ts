import { describe, expect, it } from 'vitest';
import { fitToLengths, truncate } from './field-limits.js';

describe('fitToLengths', () => {
  it('cuts over-long strings to their field length, with a warning naming field and lengths, not the value', () => {
    const { record, warnings } = fitToLengths({ a: 'x'.repeat(12), b: 'short', n: 12345, c: 'y'.repeat(50) }, { a: 10, b: 10, n: 2 }, 'Test lead');
    expect(record).toEqual({ a: 'x'.repeat(10), b: 'short', n: 12345, c: 'y'.repeat(50) });
    expect(warnings).toEqual(['Test lead field a holds 10 characters: the value (12 characters) was truncated']);
  });

  it('leaves a leaveOut field out when too long (an email cut to fit is another address), and keeps it when it fits', () => {
    const long = fitToLengths({ Email: `${'a'.repeat(20)}@example.com`, LastName: 'L' }, { Email: 20, LastName: 20 }, 'Test lead', { leaveOut: ['Email'] });
    expect(long.record).toEqual({ LastName: 'L' });
    expect(long.warnings).toEqual(['Test lead field Email holds 20 characters: the value (32 characters) was left out, not truncated (a cut address is a wrong address)']);
    const fits = fitToLengths({ Email: 'a@b.c' }, { Email: 20 }, 'Test lead', { leaveOut: ['Email'] });
    expect(fits).toEqual({ record: { Email: 'a@b.c' }, warnings: [] });
  });

  it('never splits a surrogate pair', () => {
    expect(truncate('ab😀c', 3)).toBe('ab');
    expect(fitToLengths({ a: '😀😀' }, { a: 3 }, 'T').record.a).toBe('😀');
  });
});
