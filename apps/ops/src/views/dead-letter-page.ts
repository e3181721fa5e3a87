import type { DeadLetter } from '@leadrelay/queue';
import { html, type SafeHtml } from '../safe-html.js';
import { layout, notice, piiToggle, type PageContext } from './components.js';
import { bulkActions, deadLetterTable } from './dead-letter-table.js';

/** The dead-letter set, for every destination or one, with replay and purge. */
export function deadLetterPage(ctx: PageContext, letters: DeadLetter[], options: { destination?: string; destinations: string[]; notice?: string; limit: number }): SafeHtml {
  const choices = options.destinations.map((id) => html`<option value="${id}"${id === options.destination ? html` selected` : ''}>${id}</option>`);
  return layout('Dead letters', html`
<h1>Dead letters${options.destination ? html` at ${options.destination}` : ''}</h1>
${notice(options.notice)}
${piiToggle(ctx, '/dlq')}
<form method="get" action="/dlq" class="actions">
  <label for="dlq-destination">Destination</label>
  <select id="dlq-destination" name="destination"><option value="">all</option>${choices}</select>
  <button type="submit">Show</button>
</form>
<p>${letters.length} dead-lettered deliveries${letters.length >= options.limit ? html` (showing the newest ${options.limit} per destination)` : ''}. Replay re-queues with fresh attempts; purge deletes.</p>
${bulkActions(ctx, letters.length, options.destination, 'dlq')}
${deadLetterTable(ctx, letters, 'dlq')}`);
}
