import type { SourceHealth } from '@leadrelay/sources';
import { html, type SafeHtml } from '../safe-html.js';
import { time } from './components.js';

/** A source's health as `readSourceHealth` (and `leadrelay sources`) gives it. */
export type SourceRow = SourceHealth & { lagSeconds?: number };

/** When the last error happened: a pause records its own time; a failed poll is the last poll (a successful one clears the error). */
export function lastErrorAt(s: SourceRow): string | undefined {
  return s.pause?.at ?? s.lastPollAt;
}

function state(s: SourceRow): SafeHtml {
  if (s.state === 'disabled') return html`<span class="muted">disabled</span>`;
  return html`<span class="state-${s.state}">${s.state}</span>`;
}

function watermark(s: SourceRow): SafeHtml {
  if (!s.watermark) return html`<span class="muted">– (not read yet)</span>`;
  // The ids at that instant are row or referral keys (no customer data); their count is what matters here.
  const ids = s.watermark.ids.length;
  return html`<span title="${s.watermark.ts}">${time(s.watermark.ts)}</span>${ids > 0 ? html` <span class="muted">(+${ids} id${ids === 1 ? '' : 's'} at that instant)</span>` : ''}`;
}

function lastError(s: SourceRow): SafeHtml {
  if (s.pause) return html`<span class="error">${s.pause.reason}</span> <span class="muted">(${time(s.pause.at)})</span><br><span class="muted">What to do:</span> ${s.pause.remediation}`;
  if (s.lastError) return html`<span class="error">${s.lastError}</span> <span class="muted">(${time(lastErrorAt(s))})</span>`;
  return html`<span class="muted">–</span>`;
}

/** Every pull source (README: Sources): state, polls, watermark, lag, leads found and the last error; nothing from its settings. */
export function sourcesTable(sources: SourceRow[]): SafeHtml {
  if (sources.length === 0) return html``;
  const paused = sources.filter((s) => s.state === 'paused').length;
  const failing = sources.filter((s) => s.state === 'running' && s.lastError).length;
  const rows = sources.map((s) => html`
  <tr>
    <th scope="row">${s.source}</th>
    <td>${s.type}</td>
    <td>${state(s)}</td>
    <td>${time(s.lastPollAt)}</td>
    <td>${time(s.lastSuccessAt)}</td>
    <td>${watermark(s)}</td>
    <td class="num">${s.lagSeconds === undefined ? html`<span class="muted">–</span>` : `${s.lagSeconds}\u00a0s`}</td>
    <td class="num">${s.polls} / ${s.failedPolls}</td>
    <td class="num">${s.leadsFound}</td>
    <td>${lastError(s)}</td>
  </tr>`);
  return html`
<h2 id="sources">Sources</h2>
<p>${sources.length} pull source(s); ${paused > 0 ? html`<strong class="state-paused">${paused} paused</strong>` : '0 paused'}${failing > 0 ? html`; <strong class="state-failing">${failing} with a failed last poll</strong>` : ''}. Their polls and write-backs are in <a href="/queues/">bull-board</a>.</p>
<table>
  <caption class="muted">Watermark: the newest source timestamp committed (plus the ids already taken at that instant); lag: now minus how far the source has been read. Leads found: valid leads read from the source, counted once per committed page (duplicates and leads the source's match filters out included). An error shows until a poll succeeds.</caption>
  <thead><tr>
    <th scope="col">Source</th><th scope="col">Type</th><th scope="col">State</th><th scope="col">Last poll</th><th scope="col">Last success</th>
    <th scope="col">Watermark</th><th scope="col" class="num">Lag</th><th scope="col" class="num">Polls / failed</th><th scope="col" class="num">Leads found</th>
    <th scope="col">Pause reason or last error</th>
  </tr></thead>
  <tbody>${rows}</tbody>
</table>`;
}
