import type { DeadLetter } from '@leadrelay/queue';
import type { DestinationDetail } from '../destination-view.js';
import { html, seg, type SafeHtml } from '../safe-html.js';
import { activeCount, layout, PAGE_REFRESH_SECONDS, notice, percent, postButton, stateLabel, time, type PageContext } from './components.js';
import { bulkActions, deadLetterTable } from './dead-letter-table.js';
import { LARGE_SPARKLINE, sparkline } from './sparkline.js';

/** One destination: its state and why, what to fix, its queue and recent outcomes, pause/resume, its dead letters. */
export function destinationPage(ctx: PageContext, d: DestinationDetail, letters: DeadLetter[], message?: string): SafeHtml {
  const id = d.destination;
  const controls = d.state === 'paused'
    ? postButton(ctx, `/destinations/${seg(id)}/resume`, 'Resume delivery')
    : html`<form class="inline" method="post" action="/destinations/${seg(id)}/pause">
  <input type="hidden" name="_csrf" value="${ctx.csrf}">
  <label for="pause-reason">Reason</label>
  <input id="pause-reason" type="text" name="reason" maxlength="200" placeholder="paused by an operator">
  <button type="submit">Pause delivery</button>
</form>`;
  return layout(id, html`
<h1>Destination ${id}</h1>
${notice(message)}
<dl>
  <dt>Type</dt><dd>${d.type}${d.enabled ? '' : html` <span class="muted">(disabled: takes no leads)</span>`}</dd>
  <dt>Host</dt><dd class="mono">${d.hosts.join(', ') || '–'}</dd>
  <dt>State</dt><dd>${stateLabel(d)}</dd>
  ${d.pause ? html`<dt>Paused</dt><dd>by ${d.pause.by === 'operator' ? 'an operator' : 'LeadRelay after a configuration failure'} at ${time(d.pause.at)}</dd>
  <dt>Pause reason</dt><dd class="error">${d.pause.reason}</dd>` : ''}
  <dt>Last success</dt><dd>${d.lastSuccessAt ? time(d.lastSuccessAt) : html`<span class="muted">none yet</span>`}</dd>
  <dt>Success rate</dt><dd>${percent(d.successRateLastHour)} last hour (${d.deliveredLastHour} delivered, ${d.failedAttemptsLastHour} failed attempts); ${percent(d.successRateLastDay)} last 24 hours (${d.deliveredLastDay} delivered, ${d.failedAttemptsLastDay} failed attempts)</dd>
  ${d.lastError ? html`<dt>Current error</dt><dd class="error">${d.lastError} <span class="muted">(${d.lastErrorCode}, ${time(d.lastErrorAt)})</span></dd>`
    : d.lastErrorDetail ? html`<dt>Last error</dt><dd class="muted">none since the last success (the one before: ${d.lastErrorDetail.destinationCode ?? d.lastErrorDetail.code} at ${time(d.lastErrorDetail.at)})</dd>`
      : html`<dt>Last error</dt><dd class="muted">none</dd>`}
  ${d.remediation ? html`<dt>What to do</dt><dd>${d.remediation}</dd>` : ''}
</dl>
<div class="actions">${controls}</div>
<p class="muted">Pausing stops delivery to this destination only; its leads keep queueing and are delivered on resume.</p>

<h2>Queue</h2>
<table>
  <thead><tr><th scope="col" class="num">Waiting</th><th scope="col" class="num">Active</th><th scope="col" class="num">Delayed</th><th scope="col" class="num">Delivered (total)</th><th scope="col" class="num">Dead</th></tr></thead>
  <tbody><tr><td class="num">${d.waiting}</td><td class="num">${activeCount(d)}</td><td class="num">${d.delayed}</td><td class="num">${d.delivered}</td><td class="num">${d.dead}</td></tr></tbody>
</table>
<table>
  <thead><tr><th scope="col"></th><th scope="col" class="num">Last hour</th><th scope="col" class="num">Last 24 hours</th></tr></thead>
  <tbody>
    <tr><th scope="row">Delivered</th><td class="num">${d.deliveredLastHour}</td><td class="num">${d.deliveredLastDay}</td></tr>
    <tr><th scope="row">Dead-lettered</th><td class="num">${d.deadLastHour}</td><td class="num">${d.deadLastDay}</td></tr>
  </tbody>
</table>
<figure class="spark-figure">
  ${sparkline(d.hourly, LARGE_SPARKLINE)}
  <figcaption class="muted">Per hour, last 24 hours (UTC hours, oldest left): <span class="legend-ok">delivered</span> below <span class="legend-bad">failed attempts</span> (retried or dead-lettered). Hover a bar for its hour and numbers.</figcaption>
</figure>
<p><a href="/queues/queue/${seg(id)}">Jobs of this queue in bull-board</a></p>

<h2>Dead letters</h2>
${bulkActions(ctx, letters.length, { destination: id }, 'destination')}
${deadLetterTable(ctx, letters, 'destination')}`, { refreshSeconds: PAGE_REFRESH_SECONDS });
}
