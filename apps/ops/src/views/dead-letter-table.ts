import type { DeadLetter } from '@leadrelay/queue';
import { html, seg, type SafeHtml } from '../safe-html.js';
import { postButton, time, type PageContext } from './components.js';

/** Where a form sends the operator back to after it ran (a fixed set, never a URL from the request). */
export type ReturnTo = 'dlq' | 'destination' | 'lead';

/** Dead-lettered deliveries with replay and purge per row. */
export function deadLetterTable(ctx: PageContext, letters: DeadLetter[], returnTo: ReturnTo): SafeHtml {
  if (letters.length === 0) return html`<p class="muted">No dead-lettered deliveries.</p>`;
  const rows = letters.map((dl) => html`
  <tr>
    <th scope="row"><a class="mono" href="/leads/${seg(dl.leadId)}">${dl.leadId}</a></th>
    <td><a href="/destinations/${seg(dl.destination)}">${dl.destination}</a></td>
    <td class="num">${dl.attempts}</td>
    <td>${dl.lastError}</td>
    <td>${dl.remediation}</td>
    <td>${time(dl.failedAt)}</td>
    <td><div class="actions">
      ${postButton(ctx, '/dlq/replay', 'Replay', { destination: dl.destination, leadId: dl.leadId, return: returnTo }, { ariaLabel: `Replay lead ${dl.leadId} to ${dl.destination}` })}
      ${postButton(ctx, '/dlq/purge', 'Purge', { destination: dl.destination, leadId: dl.leadId, return: returnTo }, { danger: true, ariaLabel: `Purge lead ${dl.leadId} at ${dl.destination}` })}
    </div></td>
  </tr>`);
  return html`
<div class="table-scroll">
<table>
  <thead><tr>
    <th scope="col">Lead</th><th scope="col">Destination</th><th scope="col" class="num">Attempts</th>
    <th scope="col">Last error</th><th scope="col">Remediation</th><th scope="col">Failed at</th><th scope="col">Actions</th>
  </tr></thead>
  <tbody>${rows}</tbody>
</table>
</div>`;
}

/** The dead-letter filter as text (a form's or a query string's fields): `dlq list --destination --since --until --code --offer`. */
export interface DeadLetterFilterText {
  destination?: string;
  since?: string;
  until?: string;
  code?: string;
  offer?: string;
}

const FILTER_FIELDS = ['destination', 'since', 'until', 'code', 'offer'] as const;

/** The given fields only (empty ones dropped), trimmed. */
export function filterTextOf(input: Record<string, unknown>): DeadLetterFilterText {
  const out: DeadLetterFilterText = {};
  for (const k of FILTER_FIELDS) {
    const v = input[k];
    if (typeof v === 'string' && v.trim() !== '') out[k] = v.trim().slice(0, 200);
  }
  return out;
}

export function hasFilter(f: DeadLetterFilterText): boolean {
  return FILTER_FIELDS.some((k) => f[k] !== undefined);
}

/** `destination=…&since=…` for a link back to the same list. */
export function filterQuery(f: DeadLetterFilterText): string {
  const q = new URLSearchParams();
  for (const k of FILTER_FIELDS) if (f[k] !== undefined) q.set(k, f[k]!);
  return q.toString();
}

/** "Replay these" / "purge these" (every dead letter the filter matches; "all" without one); each asks with the count first. */
export function bulkActions(ctx: PageContext, count: number, filter: DeadLetterFilterText, returnTo: ReturnTo): SafeHtml {
  if (count === 0) return html``;
  const narrowed = FILTER_FIELDS.some((k) => k !== 'destination' && filter[k] !== undefined);
  const scope = filter.destination ? html` at ${filter.destination}` : html` at every destination`;
  const fields = { ...filter, all: '1', return: returnTo };
  return html`<div class="actions">
  ${postButton(ctx, '/dlq/replay', narrowed ? 'Replay these' : 'Replay all', fields)}
  ${postButton(ctx, '/dlq/purge', narrowed ? 'Purge these' : 'Purge all', fields, { danger: true })}
  <span class="muted">${narrowed ? 'the ' : ''}${count} dead-lettered ${count === 1 ? 'delivery' : 'deliveries'}${narrowed ? ' this filter matches' : ''}${scope}</span>
</div>`;
}
