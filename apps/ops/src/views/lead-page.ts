import type { Lead } from '@leadrelay/core';
import type { DeliveryRecord, LeadStatus } from '@leadrelay/queue';
import { html, seg, type SafeHtml } from '../safe-html.js';
import { layout, PAGE_REFRESH_SECONDS, notice, piiToggle, postButton, time, type PageContext } from './components.js';

/** Where a lead is at every destination, every attempt, and what to do about it. */
export function leadPage(ctx: PageContext, status: LeadStatus, lead: Lead | undefined, message?: string): SafeHtml {
  const c = lead?.customer ?? {};
  const name = [c.firstName, c.lastName].filter(Boolean).join(' ');
  const destinations = Object.entries(status.deliveries).map(([id, r]) => {
    const attempts = status.timeline.filter((t) => t.destination === id);
    const rows = attempts.map((t) => html`
      <tr><td>${time(t.at)}</td><td class="num">${t.attempt}</td><td class="outcome-${t.outcome}">${t.outcome}</td>
      <td>${t.error ?? ''}${t.code ? html` <span class="muted">(${t.code})</span>` : ''}</td><td class="num">${t.durationMs} ms</td></tr>`);
    return html`
<section aria-labelledby="d-${id}">
  <h2 id="d-${id}"><a href="/destinations/${seg(id)}">${id}</a>: <span class="state-${r.state}">${r.state}</span></h2>
  <dl>
    <dt>Attempts</dt><dd>${r.attempts}</dd>
    ${r.deliveredAt ? html`<dt>Delivered at</dt><dd>${time(r.deliveredAt)}${r.remoteId ? html` as <span class="mono">${r.remoteId}</span>` : ''}</dd>` : ''}
    ${r.nextAttemptAt && r.state !== 'delivered' ? html`<dt>Next attempt</dt><dd>${time(r.nextAttemptAt)}</dd>` : ''}
    ${r.lastError ? html`<dt>Last error</dt><dd class="error">${r.lastError}</dd>` : ''}
    ${r.remediation && r.state !== 'delivered' ? html`<dt>What to do</dt><dd>${r.remediation}</dd>` : ''}
  </dl>
  ${advice(ctx, status.id, id, r)}
  ${attempts.length > 0 ? html`<table>
    <caption class="muted">Attempts at ${id}</caption>
    <thead><tr><th scope="col">Time</th><th scope="col" class="num">Attempt</th><th scope="col">Outcome</th><th scope="col">Error</th><th scope="col" class="num">Duration</th></tr></thead>
    <tbody>${rows}</tbody>
  </table>` : html`<p class="muted">No attempt yet.</p>`}
</section>`;
  });
  return layout(`Lead ${status.id}`, html`
<h1>Lead <span class="mono">${status.id}</span></h1>
${notice(message)}
${piiToggle(ctx, `/leads/${seg(status.id)}`)}
<dl>
  <dt>Received</dt><dd>${time(status.receivedAt)}${status.testLead ? ' (Microsoft test lead)' : ''}</dd>
  ${lead ? html`<dt>Source</dt><dd>${lead.source}-${lead.action} | ${lead.offer}${lead.offerTitle ? html` (${lead.offerTitle})` : ''}</dd>
  <dt>Customer</dt><dd>${name || html`<span class="muted">no name</span>`}${c.company ? html`, ${c.company}` : ''}${c.email ? html`, ${c.email}` : ''}</dd>` : ''}
  ${status.seenBy?.length ? html`<dt>Arrived from</dt><dd><ul class="plain">${status.seenBy.map((x) => html`<li>${time(x.at)} ${x.origin} as <span class="mono">${x.leadId}</span></li>`)}</ul></dd>` : ''}
</dl>
${destinations.length > 0 ? destinations : html`<p>No destination took this lead.</p>`}`, { refreshSeconds: PAGE_REFRESH_SECONDS });
}

function advice(ctx: PageContext, leadId: string, destination: string, r: DeliveryRecord): SafeHtml {
  if (r.state === 'dead') {
    return html`<div class="actions">${postButton(ctx, '/dlq/replay', `Replay to ${destination}`, { destination, leadId, return: 'lead' })}
    <span class="muted">Fix what the error says first, or it will fail the same way.</span></div>`;
  }
  if (r.state === 'paused') {
    return html`<p>The destination is paused: this lead waits for it. <a href="/destinations/${seg(destination)}">Fix and resume ${destination}</a>.</p>`;
  }
  return html``;
}
