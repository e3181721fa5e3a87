import { html, seg, type SafeHtml } from '../safe-html.js';
import type { DestinationView } from '../destination-view.js';
import { activeCount, layout, PAGE_REFRESH_SECONDS, percent, shortTime, stateLabel } from './components.js';
import { sourcesTable, type SourceRow } from './sources-table.js';
import { sparkline } from './sparkline.js';

/** Every destination (and pull source) at a glance: state, queue counts, recent outcomes and the last error. */
export function homePage(destinations: DestinationView[], sources: SourceRow[] = []): SafeHtml {
  const dead = destinations.reduce((n, d) => n + d.dead, 0);
  const paused = destinations.filter((d) => d.state === 'paused').length;
  const failing = destinations.filter((d) => d.state === 'failing').length;
  const rows = destinations.map((d) => html`
  <tr>
    <th scope="row"><a href="/destinations/${seg(d.destination)}">${d.destination}</a>${d.enabled ? '' : html` <span class="muted">(disabled)</span>`}<br><span class="muted small">${d.type}</span></th>
    <td class="mono host"><span class="ellipsis" title="${d.hosts.join(', ')}">${d.hosts.join(', ')}</span></td>
    <td class="nowrap">${stateLabel(d)}</td>
    <td>${sparkline(d.hourly)}</td>
    <td class="num">${d.waiting} / ${activeCount(d)} / ${d.delayed}</td>
    <td class="num">${d.deliveredLastHour} / ${d.deliveredLastDay}</td>
    <td class="num">${d.dead > 0 ? html`<a href="/dlq?destination=${seg(d.destination)}">${d.dead}</a>` : d.dead} <span class="muted">(${d.deadLastHour} / ${d.deadLastDay})</span></td>
    <td class="num">${percent(d.successRateLastHour)} / ${percent(d.successRateLastDay)}</td>
    <td class="nowrap">${shortTime(d.lastSuccessAt)}</td>
    <td>${problemCell(d)}</td>
  </tr>`);
  return layout('Destinations', html`
<h1>Destinations</h1>
<p>${destinations.length} destination(s); ${paused} paused; ${failing > 0 ? html`<strong class="state-failing">${failing} failing</strong>; ` : ''}${dead > 0 ? html`<a href="/dlq">${dead} dead-lettered deliveries</a>` : 'no dead-lettered deliveries'}.</p>
<p class="muted table-note" id="destinations-note">Delivered, dead and success rate (delivered / delivery attempts): last hour / last 24 hours. The chart: one bar per hour, oldest left, <span class="legend-ok">delivered</span> below <span class="legend-bad">failed attempts</span>. Waiting, active, delayed and dead: now; stalled: active deliveries whose worker stopped, back to waiting at the next stalled check. An error shows while no delivery succeeded after it.</p>
<div class="table-scroll">
<table aria-describedby="destinations-note">
  <thead><tr>
    <th scope="col">Destination</th><th scope="col">Host</th><th scope="col">State</th><th scope="col">Last 24 h</th>
    <th scope="col" class="num">Waiting / active / delayed</th>
    <th scope="col" class="num">Delivered 1h / 24h</th><th scope="col" class="num">Dead now (1h / 24h)</th>
    <th scope="col" class="num">Success 1h / 24h</th><th scope="col">Last success</th>
    <th scope="col">Pause reason or current error</th>
  </tr></thead>
  <tbody>${rows}</tbody>
</table>
</div>${sourcesTable(sources)}`, { refreshSeconds: PAGE_REFRESH_SECONDS });
}

/** The pause reason or current error, at most two lines; the whole text in its title and in the page. */
function problemCell(d: DestinationView): SafeHtml {
  if (d.pausedReason) return html`<span class="clamp" title="${d.pausedReason}">${d.pausedReason}</span>`;
  if (!d.lastError) return html`<span class="muted">–</span>`;
  return html`<span class="clamp" title="${d.lastError}">${d.lastError}</span><span class="muted nowrap">${shortTime(d.lastErrorAt)}</span>`;
}
