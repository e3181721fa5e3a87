import type { LeadSummary } from '@leadrelay/queue';
import { html, seg, type SafeHtml } from '../safe-html.js';
import { layout, time, type PageContext } from './components.js';

/** The search as the operator typed it: `leadrelay leads --email | --offer | --since [--state] [--destination]`. */
export interface LeadSearchText {
  email?: string;
  offer?: string;
  since?: string;
  state?: string;
  destination?: string;
}

export const LEAD_SEARCH_FIELDS = ['email', 'offer', 'since', 'state', 'destination'] as const;

export interface LeadSearchPageOptions {
  search: LeadSearchText;
  destinations: string[];
  states: readonly string[];
  /** Absent before a search ran (the form only) or when it could not run (`error`). */
  leads?: LeadSummary[];
  /** The next page's cursor, when there is one. */
  next?: string;
  /** True on a page reached through a cursor (it links back to the first). */
  paged: boolean;
  error?: string;
  limit?: number;
}

/** The search's query string (plus cursor, limit and the personal data toggle as given). */
export function searchQuery(s: LeadSearchText, extra: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const k of LEAD_SEARCH_FIELDS) if (s[k]) q.set(k, s[k]!);
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) q.set(k, v);
  return q.toString();
}

/** The customer as one line: masked values arrive masked (maskLeadSummary), shown ones as they are. */
function customerText(l: LeadSummary): SafeHtml {
  if (!l.customer) return html`<span class="muted">erased${l.erasedAt ? html` ${time(l.erasedAt)}` : ''}</span>`;
  const c = l.customer;
  const name = [c.firstName, c.lastName].filter(Boolean).join(' ');
  const parts = [name, c.email, c.company].filter(Boolean);
  return parts.length > 0 ? html`${parts.join(', ')}` : html`<span class="muted">–</span>`;
}

function deliveries(l: LeadSummary): SafeHtml {
  const entries = Object.entries(l.deliveries);
  if (entries.length === 0) return html`<span class="muted">–</span>`;
  return html`<ul class="plain">${entries.map(([d, state]) => html`<li><a href="/destinations/${seg(d)}">${d}</a>: <span class="state-${state}">${state}</span></li>`)}</ul>`;
}

/**
 * Lead search (`/leads`): by email, offer glob or receive time, narrowed by state and destination, from the lead
 * index (Relay.findLeads), newest first, one page at a time through its cursor; personal data masked unless `pii=1`.
 */
export function leadSearchPage(ctx: PageContext, o: LeadSearchPageOptions): SafeHtml {
  const s = o.search;
  const pii = ctx.showPii ? '1' : undefined;
  const limit = o.limit !== undefined ? String(o.limit) : undefined;
  const option = (value: string, chosen: string | undefined) => html`<option value="${value}"${value === chosen ? html` selected` : ''}>${value}</option>`;
  const ran = o.leads !== undefined;
  const toggle = ctx.showPii
    ? html`<p class="muted">Personal data is shown. <a href="/leads?${searchQuery(s, { limit })}">Mask it</a></p>`
    : html`<p class="muted">Personal data is masked. <a href="/leads?${searchQuery(s, { limit, pii: '1' })}">Show personal data</a></p>`;
  const rows = (o.leads ?? []).map((l) => html`
  <tr>
    <th scope="row"><a class="mono" href="/leads/${seg(l.id)}${ctx.showPii ? '?pii=1' : ''}">${l.id}</a>${l.testLead ? html` <span class="muted">(test lead)</span>` : ''}</th>
    <td class="nowrap">${time(l.receivedAt)}</td>
    <td class="mono">${l.offer ?? ''}</td>
    <td>${customerText(l)}</td>
    <td>${deliveries(l)}</td>
  </tr>`);
  const results = !ran ? html`<p class="muted">Give an email, an offer glob or a time (since), then Search. Email and offer come from an index: a search does not read every lead.</p>`
    : rows.length === 0 ? html`<p>No lead matches${o.paged ? ' on this page' : ''}.</p>`
      : html`<p>${rows.length} lead${rows.length === 1 ? '' : 's'} on this page, newest first${o.next ? '; more on the next page' : ''}.</p>
<div class="table-scroll">
<table>
  <thead><tr><th scope="col">Lead</th><th scope="col">Received</th><th scope="col">Offer</th><th scope="col">Customer</th><th scope="col">Deliveries</th></tr></thead>
  <tbody>${rows}</tbody>
</table>
</div>`;
  const pager = ran && (o.next || o.paged) ? html`<nav class="pager" aria-label="Pages">
  ${o.paged ? html`<a href="/leads?${searchQuery(s, { limit, pii })}">First page</a>` : ''}
  ${o.next ? html`<a rel="next" href="/leads?${searchQuery(s, { limit, cursor: o.next, pii })}">Next page</a>` : ''}
</nav>` : '';
  return layout('Lead search', html`
<h1>Lead search</h1>
${toggle}
<form method="get" action="/leads" role="search" aria-label="Search leads">
<fieldset class="filters">
  <legend>Find leads by</legend>
  <label for="ls-email">Email <input id="ls-email" type="text" name="email" value="${s.email ?? ''}" placeholder="ada@contoso.com" size="24" autocomplete="off"></label>
  <label for="ls-offer">Offer <input id="ls-offer" type="text" name="offer" value="${s.offer ?? ''}" placeholder="contoso.*" size="16"></label>
  <label for="ls-since">Received since <input id="ls-since" type="text" name="since" value="${s.since ?? ''}" placeholder="1d or an ISO time" size="16"></label>
  <label for="ls-state">State <select id="ls-state" name="state"><option value="">any</option>${o.states.map((x) => option(x, s.state))}</select></label>
  <label for="ls-destination">Destination <select id="ls-destination" name="destination"><option value="">any</option>${o.destinations.map((x) => option(x, s.destination))}</select></label>
  ${ctx.showPii ? html`<input type="hidden" name="pii" value="1">` : ''}
  <button type="submit">Search</button>
</fieldset>
</form>
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : results}
${pager}`);
}
