/**
 * Timestamps as fixed-width text (`2024-01-01T08:00:00.1234567Z`), so they sort as strings and keep
 * the 100 ns precision Azure Table gives (a JS Date would round to milliseconds and merge neighbours).
 */
export function normaliseTimestamp(value: string | Date): string {
  const text = typeof value === 'string' ? value : value.toISOString();
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,7})\d*)?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m || m[3] !== 'Z') {
    const d = new Date(text);
    if (Number.isNaN(d.getTime())) throw new Error(`not a timestamp: ${text}`);
    return normaliseTimestamp(d.toISOString());
  }
  return `${m[1]}.${(m[2] ?? '').padEnd(7, '0')}Z`;
}

/** Milliseconds since the epoch of a normalised timestamp. */
export function timestampMs(value: string): number {
  return Date.parse(value.replace(/(\.\d{3})\d*Z$/, '$1Z'));
}
