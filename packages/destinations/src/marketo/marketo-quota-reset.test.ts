import { describe, expect, it } from 'vitest';
import { lastCentralMidnight, nextCentralMidnight, quotaResetDelayMs, QUOTA_RESET_RECHECK_MS } from './marketo-quota-reset.js';

const at = (iso: string) => Date.parse(iso);

describe('next midnight in America/Chicago', () => {
  it.each([
    // summer (CDT, UTC-5)
    ['2024-07-15T15:30:00-05:00', '2024-07-16T05:00:00Z'],
    ['2024-07-15T23:59:59-05:00', '2024-07-16T05:00:00Z'],
    ['2024-07-16T00:00:00-05:00', '2024-07-17T05:00:00Z'],
    // winter (CST, UTC-6)
    ['2024-01-15T00:00:01-06:00', '2024-01-16T06:00:00Z'],
    ['2024-12-31T18:00:00-06:00', '2025-01-01T06:00:00Z'],
    // the UTC date is already tomorrow, Chicago's is not
    ['2024-01-16T03:00:00Z', '2024-01-16T06:00:00Z'],
    // DST starts 2024-03-10 02:00 CST: that day's next midnight is already CDT
    ['2024-03-10T01:30:00-06:00', '2024-03-11T05:00:00Z'],
    ['2024-03-09T12:00:00-06:00', '2024-03-10T06:00:00Z'],
    // DST ends 2024-11-03 02:00 CDT: the midnight starting that day is CDT, the next one CST
    ['2024-11-02T23:30:00-05:00', '2024-11-03T05:00:00Z'],
    ['2024-11-03T01:30:00-06:00', '2024-11-04T06:00:00Z'],
    ['2024-11-03T12:00:00-06:00', '2024-11-04T06:00:00Z'],
  ])('after %s → %s', (now, expected) => {
    expect(new Date(nextCentralMidnight(at(now))).toISOString()).toBe(new Date(at(expected)).toISOString());
  });

  it('keeps milliseconds out of the way', () => {
    const now = at('2024-07-15T15:30:00.750-05:00');
    expect(nextCentralMidnight(now)).toBe(at('2024-07-16T05:00:00Z'));
    expect(lastCentralMidnight(now)).toBe(at('2024-07-15T05:00:00Z'));
  });
});

describe('quotaResetDelayMs (607)', () => {
  it('waits until the next Central midnight', () => {
    const now = at('2024-07-15T15:30:00-05:00');
    expect(quotaResetDelayMs(now)).toBe(at('2024-07-16T05:00:00Z') - now);
  });

  it('shortly after midnight (Marketo not reset yet) rechecks soon instead of waiting a day', () => {
    expect(quotaResetDelayMs(at('2024-07-16T00:02:00-05:00'))).toBe(QUOTA_RESET_RECHECK_MS);
    expect(quotaResetDelayMs(at('2024-07-16T00:30:00-05:00'))).toBe(at('2024-07-17T05:00:00Z') - at('2024-07-16T00:30:00-05:00'));
  });
});
