import { describe, expect, it } from 'vitest';
import { minimumRetryDelay } from '@leadrelay/core';
import { parseConfig } from './load-config.js';

const config = (retry = '', destRetry = '') => parseConfig(`
intake: { apiKeys: ["0123456789abcdef0123"] }
${retry}
destinations:
  - { id: a, type: https, url: "https://a.example/hook" ${destRetry} }
  - { id: b, type: https, url: "https://b.example/hook" }
`, 'test.yaml', { env: {} });

/** Time from the first attempt to the last, with the shortest jitter every time. */
const span = (r: { attempts: number; initialDelay: number; maxDelay: number }) =>
  Array.from({ length: r.attempts - 1 }, (_, i) => minimumRetryDelay(i + 1, r.initialDelay, r.maxDelay)).reduce((a, b) => a + b, 0);

describe('the retry horizon', () => {
  it('by default the retries span at least 72 hours (attempts derived from initialDelay and maxDelay)', () => {
    const retry = config().destinations[0]!.retry;
    expect(retry.attempts).toBe(82);
    expect(span(retry)).toBeGreaterThanOrEqual(72 * 3_600_000);
    expect(span({ ...retry, attempts: retry.attempts - 1 })).toBeLessThan(72 * 3_600_000);
  });

  it('is overridable globally and per destination, and explicit attempts win', () => {
    const c = config('retry: { maxDelay: 6h, horizon: 5d }', ', retry: { attempts: 7 }');
    expect(c.destinations[0]!.retry.attempts).toBe(7);
    expect(span(c.destinations[1]!.retry)).toBeGreaterThanOrEqual(5 * 24 * 3_600_000);
    const d = config('', ', retry: { horizon: 1h }');
    expect(span(d.destinations[0]!.retry)).toBeGreaterThanOrEqual(3_600_000);
    expect(d.destinations[0]!.retry.attempts).toBeLessThan(d.destinations[1]!.retry.attempts);
  });
});
