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
<table>
  <thead><tr>
    <th scope="col">Lead</th><th scope="col">Destination</th><th scope="col" class="num">Attempts</th>
    <th scope="col">Last error</th><th scope="col">Remediation</th><th scope="col">Failed at</th><th scope="col">Actions</th>
  </tr></thead>
  <tbody>${rows}</tbody>
</table>`;
}

/** Replay all / purge all, for one destination or every one. */
export function bulkActions(ctx: PageContext, count: number, destination: string | undefined, returnTo: ReturnTo): SafeHtml {
  if (count === 0) return html``;
  const scope = destination ? html` at ${destination}` : html` at every destination`;
  return html`<div class="actions">
  ${postButton(ctx, '/dlq/replay', 'Replay all', { destination, all: '1', return: returnTo })}
  ${postButton(ctx, '/dlq/purge', 'Purge all', { destination, all: '1', return: returnTo }, { danger: true })}
  <span class="muted">${count} dead-lettered ${count === 1 ? 'delivery' : 'deliveries'}${scope}</span>
</div>`;
}
