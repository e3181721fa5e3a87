import { html, type SafeHtml } from '../safe-html.js';
import { layout, type PageContext } from './components.js';

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

export function messagePage(title: string, message: string, status?: number): SafeHtml {
  return layout(title, html`<h1>${title}</h1><p>${message}</p>${status === 404 ? html`<p><a href="/">Back to destinations</a></p>` : ''}`);
}
