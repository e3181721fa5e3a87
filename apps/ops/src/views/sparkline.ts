import type { DestinationStats } from '@leadrelay/queue';
import { html, type SafeHtml } from '../safe-html.js';

/** One hour of `DestinationStats.hourly`: delivered leads and failed attempts (retried or dead). */
export type HourlyCount = DestinationStats['hourly'][number];

export interface SparklineOptions {
  /** Width of one hour's bar in SVG units (the SVG is 24 bars wide). */
  barWidth: number;
  /** Height of the tallest bar. */
  height: number;
  /** Hour labels under the bars ("24 h ago", "12 h ago", "now"). */
  axis?: boolean;
}

export const SMALL_SPARKLINE: SparklineOptions = { barWidth: 4, height: 20 };
export const LARGE_SPARKLINE: SparklineOptions = { barWidth: 22, height: 90, axis: true };

/** `2026-05-01 14:00 UTC` for an hour bucket's ISO start. */
function hourText(iso: string): string {
  return iso.slice(0, 13).replace('T', ' ') + ':00 UTC';
}

/** What the chart says in words: the totals, and the hours with failures (screen readers get no bars). */
export function sparklineLabel(hourly: HourlyCount[]): string {
  const delivered = hourly.reduce((n, h) => n + h.delivered, 0);
  const failed = hourly.reduce((n, h) => n + h.failed, 0);
  const worst = hourly.filter((h) => h.failed > 0).sort((a, b) => b.failed - a.failed)[0];
  return `Last 24 hours: ${delivered} delivered, ${failed} failed attempt${failed === 1 ? '' : 's'}`
    + (worst ? `; most failures at ${hourText(worst.hour)} (${worst.failed})` : '') + '.';
}

/**
 * Delivered (bottom) and failed attempts (stacked on top) per hour for the last 24 hours, oldest left, as inline SVG:
 * no script, no style attribute (the pages' CSP allows neither; colours come from classes in the stylesheet), no
 * external asset. Each bar has a `<title>` with its hour and numbers (a tooltip), the whole an `aria-label` with the totals.
 */
export function sparkline(hourly: HourlyCount[], options: SparklineOptions = SMALL_SPARKLINE): SafeHtml {
  const { barWidth: w, height: h } = options;
  const axis = options.axis ? 14 : 0;
  const width = hourly.length * w;
  const max = Math.max(1, ...hourly.map((x) => x.delivered + x.failed));
  const scale = (n: number) => (n === 0 ? 0 : Math.max(1, Math.round((n / max) * h * 10) / 10));
  const gap = w >= 8 ? 2 : 1;
  const bars = hourly.map((x, i) => {
    const ok = scale(x.delivered);
    const bad = scale(x.failed);
    const left = i * w;
    const bw = w - gap;
    return html`<g class="spark-hour" data-hour="${x.hour}" data-delivered="${String(x.delivered)}" data-failed="${String(x.failed)}"><title>${hourText(x.hour)}: ${x.delivered} delivered, ${x.failed} failed</title><rect class="spark-bg" x="${String(left)}" y="0" width="${String(bw)}" height="${String(h)}"/>${ok > 0 ? html`<rect class="spark-ok" x="${String(left)}" y="${String(h - ok)}" width="${String(bw)}" height="${String(ok)}"/>` : ''}${bad > 0 ? html`<rect class="spark-bad" x="${String(left)}" y="${String(h - ok - bad)}" width="${String(bw)}" height="${String(bad)}"/>` : ''}</g>`;
  });
  const labels = options.axis
    ? html`<text class="spark-axis" x="0" y="${String(h + axis - 2)}">24 h ago</text><text class="spark-axis" x="${String(width / 2)}" y="${String(h + axis - 2)}" text-anchor="middle">12 h ago</text><text class="spark-axis" x="${String(width)}" y="${String(h + axis - 2)}" text-anchor="end">now</text>`
    : '';
  const label = sparklineLabel(hourly);
  return html`<svg class="sparkline${options.axis ? ' sparkline-large' : ''}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${label}" width="${String(width)}" height="${String(h + axis)}" viewBox="0 0 ${String(width)} ${String(h + axis)}"><title>${label}</title>${bars}${labels}</svg>`;
}
