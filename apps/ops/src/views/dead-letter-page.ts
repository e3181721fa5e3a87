import type { DeadLetter } from '@leadrelay/queue';
import { html, type SafeHtml } from '../safe-html.js';
import { layout, notice, type PageContext } from './components.js';
import { bulkActions, deadLetterTable, filterQuery, hasFilter, type DeadLetterFilterText } from './dead-letter-table.js';

export interface DeadLetterPageOptions {
  /** The filter as the operator typed it (shown back in the form). */
  filter: DeadLetterFilterText;
  destinations: string[];
  notice?: string;
  limit: number;
  /** A filter field that cannot be read, and why: the list is not shown. */
  error?: string;
}

/** The dead-letter set, filtered (destination, time window, error code, offer), with replay and purge of one or of every match. */
export function deadLetterPage(ctx: PageContext, letters: DeadLetter[], options: DeadLetterPageOptions): SafeHtml {
  const f = options.filter;
  const choices = options.destinations.map((id) => html`<option value="${id}"${id === f.destination ? html` selected` : ''}>${id}</option>`);
  const filtered = hasFilter(f);
  const query = filterQuery(f);
  const toggle = ctx.showPii
    ? html`<p class="muted">Personal data is shown. <a href="/dlq${query ? `?${query}` : ''}">Mask it</a></p>`
    : html`<p class="muted">Personal data is masked. <a href="/dlq?${query ? `${query}&` : ''}pii=1">Show personal data</a></p>`;
  return layout('Dead letters', html`
<h1>Dead letters${f.destination ? html` at ${f.destination}` : ''}</h1>
${notice(options.notice)}
${toggle}
<form method="get" action="/dlq" aria-label="Filter dead letters">
<fieldset class="filters">
  <legend>Filter</legend>
  <label for="dlq-destination">Destination <select id="dlq-destination" name="destination"><option value="">all</option>${choices}</select></label>
  <label for="dlq-since">Failed since <input id="dlq-since" type="text" name="since" value="${f.since ?? ''}" placeholder="1d or an ISO time" size="16"></label>
  <label for="dlq-until">until <input id="dlq-until" type="text" name="until" value="${f.until ?? ''}" placeholder="2h or an ISO time" size="16"></label>
  <label for="dlq-code">Error code <input id="dlq-code" type="text" name="code" value="${f.code ?? ''}" placeholder="LR_PAYLOAD_REJECTED" size="22"></label>
  <label for="dlq-offer">Offer <input id="dlq-offer" type="text" name="offer" value="${f.offer ?? ''}" placeholder="contoso.*" size="16"></label>
  ${ctx.showPii ? html`<input type="hidden" name="pii" value="1">` : ''}
  <button type="submit">Show</button>
  ${filtered ? html`<a href="/dlq">Clear filter</a>` : ''}
</fieldset>
</form>
${options.error ? html`<p class="error" role="alert">${options.error}</p>` : html`
<p>${letters.length} dead-lettered ${letters.length === 1 ? 'delivery' : 'deliveries'}${filtered ? (letters.length === 1 ? ' matches' : ' match') : ''}${letters.length >= options.limit ? html` (showing the newest ${options.limit} per destination)` : ''}. Replay re-queues with fresh attempts; purge deletes. Both show how many they will act on first.</p>
${bulkActions(ctx, letters.length, f, 'dlq')}
${deadLetterTable(ctx, letters, 'dlq')}`}`);
}
