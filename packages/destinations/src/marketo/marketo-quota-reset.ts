/**
 * Marketo's daily API quota "resets daily at 12:00AM CST" (Adobe error-codes page, code 607).
 * We read that as midnight in US Central *local* time (America/Chicago), so it moves with DST:
 * 05:00Z in summer, 06:00Z in winter.
 */
export const MARKETO_QUOTA_TIME_ZONE = 'America/Chicago';

/**
 * A 607 this soon after midnight means Marketo has not reset yet (clock skew, a lagging reset):
 * waiting for the *next* midnight would stall the destination for a whole day, so retry shortly.
 */
export const QUOTA_RESET_GRACE_MS = 10 * 60_000;
export const QUOTA_RESET_RECHECK_MS = 60_000;

const wallClockFormat = new Intl.DateTimeFormat('en-US', {
  timeZone: MARKETO_QUOTA_TIME_ZONE,
  hourCycle: 'h23',
  year: 'numeric', month: 'numeric', day: 'numeric',
  hour: 'numeric', minute: 'numeric', second: 'numeric',
});

interface WallClock { year: number; month: number; day: number; hour: number; minute: number; second: number }

function wallClock(at: number): WallClock {
  const parts: Record<string, number> = {};
  for (const p of wallClockFormat.formatToParts(new Date(at))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute!, second: parts.second! };
}

/** Central time minus UTC at this instant, in ms (-5 h in summer, -6 h in winter). */
function centralOffsetMs(at: number): number {
  const w = wallClock(at);
  const wallAsUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return wallAsUtc - (at - (((at % 1000) + 1000) % 1000));
}

/** The UTC instant of Central-time midnight starting the given local calendar day (day may overflow). */
function centralMidnight(year: number, month: number, day: number): number {
  const asUtc = Date.UTC(year, month - 1, day);
  // Two passes: the offset at the first guess can differ from the offset at the answer on DST days.
  // Midnight itself never falls in a DST gap or overlap in Chicago (changes happen at 02:00).
  const first = asUtc - centralOffsetMs(asUtc);
  return asUtc - centralOffsetMs(first);
}

/** Epoch ms of the next midnight in America/Chicago strictly after `now`. */
export function nextCentralMidnight(now: number): number {
  const w = wallClock(now);
  return centralMidnight(w.year, w.month, w.day + 1);
}

/** Epoch ms of the midnight in America/Chicago that started the current Central day. */
export function lastCentralMidnight(now: number): number {
  const w = wallClock(now);
  return centralMidnight(w.year, w.month, w.day);
}

/** How long to wait after a 607 (daily quota reached) seen at `now`. */
export function quotaResetDelayMs(now: number): number {
  if (now - lastCentralMidnight(now) < QUOTA_RESET_GRACE_MS) return QUOTA_RESET_RECHECK_MS;
  return Math.max(1, nextCentralMidnight(now) - now);
}
