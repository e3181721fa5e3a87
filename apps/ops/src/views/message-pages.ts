import { html, type SafeHtml } from '../safe-html.js';
import { layout, time, type PageContext } from './components.js';
import { filterQuery, type DeadLetterFilterText } from './dead-letter-table.js';

/** Purge deletes for good: a second, explicit POST (no script needed). */
export function confirmPurgePage(ctx: PageContext, fields: { destination?: string; leadId?: string; all?: string; return: string }, count: number): SafeHtml {
  const what = fields.leadId
    ? html`the dead-lettered delivery of lead <span class="mono">${fields.leadId}</span>${fields.destination ? html` to ${fields.destination}` : ''}`
    : html`all ${count} dead-lettered deliveries${fields.destination ? html` at ${fields.destination}` : ' at every destination'}`;
  const hidden = Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`);
  return layout('Confirm purge', html`
<h1>Purge dead letters?</h1>
<p>This deletes ${what}. They cannot be replayed afterwards.</p>
<form method="post" action="/dlq/purge" class="actions">
  <input type="hidden" name="_csrf" value="${ctx.csrf}">${hidden}
  <input type="hidden" name="confirm" value="yes">
  <button type="submit" class="danger">Delete</button>
  <a href="/dlq">Cancel</a>
</form>`);
}

/**
 * Replay or purge every dead letter a filter matches: says how many first and acts on a second, explicit POST.
 * `filter` holds absolute times (so "since 1d" means the same window on both steps) and an `until` of when the
 * count was taken, so what is replayed is what was counted, not what failed meanwhile.
 */
export function confirmBulkPage(ctx: PageContext, action: 'replay' | 'purge', filter: DeadLetterFilterText, returnTo: string, count: number): SafeHtml {
  const fields: Record<string, string | undefined> = { ...filter, all: '1', return: returnTo, confirm: 'yes' };
  const hidden = Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`);
  const conditions = [
    filter.destination ? html`<li>at destination <strong>${filter.destination}</strong></li>` : html`<li>at every destination</li>`,
    filter.since ? html`<li>dead-lettered at or after ${time(filter.since)}</li>` : '',
    filter.until ? html`<li>dead-lettered before ${time(filter.until)}</li>` : '',
    filter.code ? html`<li>last error code <span class="mono">${filter.code}</span></li>` : '',
    filter.offer ? html`<li>offer matching <span class="mono">${filter.offer}</span></li>` : '',
  ];
  const back = returnTo === 'destination' && filter.destination ? `/destinations/${encodeURIComponent(filter.destination)}` : `/dlq${filterQuery(filter) ? `?${filterQuery(filter)}` : ''}`;
  const noun = `${count} dead-lettered ${count === 1 ? 'delivery' : 'deliveries'}`;
  const body = count === 0
    ? html`<p>No dead-lettered delivery matches (any more): there is nothing to ${action}.</p><p><a href="${back}">Back</a></p>`
    : html`<p>${action === 'replay' ? html`This re-queues <strong>${noun}</strong> with fresh attempts.` : html`This deletes <strong>${noun}</strong>. They cannot be replayed afterwards.`}</p>
<form method="post" action="/dlq/${action}" class="actions">
  <input type="hidden" name="_csrf" value="${ctx.csrf}">${hidden}
  <button type="submit"${action === 'purge' ? html` class="danger"` : ''}>${action === 'replay' ? 'Replay' : 'Delete'} ${count}</button>
  <a href="${back}">Cancel</a>
</form>`;
  return layout(action === 'replay' ? 'Confirm replay' : 'Confirm purge', html`
<h1>${action === 'replay' ? 'Replay' : 'Purge'} dead letters?</h1>
<p>The dead letters that match:</p>
<ul>${conditions}</ul>
${body}`);
}

export function messagePage(title: string, message: string, status?: number): SafeHtml {
  return layout(title, html`<h1>${title}</h1><p>${message}</p>${status === 404 ? html`<p><a href="/">Back to destinations</a></p>` : ''}`);
}
