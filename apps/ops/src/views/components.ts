import { html, type SafeHtml } from '../safe-html.js';
import type { DestinationStats } from '@leadrelay/queue';

/** What every page needs to render forms. */
export interface PageContext {
  /** The CSRF token for this user's forms. */
  csrf: string;
  /** Customer values shown as they are (`?pii=1`); masked otherwise. */
  showPii: boolean;
}

/** The "show / hide personal data" toggle: a link to the same page with or without `?pii=1`. */
export function piiToggle(ctx: PageContext, path: string): SafeHtml {
  return ctx.showPii
    ? html`<p class="muted">Personal data is shown. <a href="${path}">Mask it</a></p>`
    : html`<p class="muted">Personal data is masked. <a href="${path}?pii=1">Show personal data</a></p>`;
}

/** The one stylesheet, served at /assets/ops.css (so the pages' CSP allows no inline code at all). */
export const STYLESHEET = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #57606a; --bg: #fff; --line: #d0d7de; --bad: #b42318; --warn: #9a6700; --ok: #1a7f37; --accent: #0969da; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9da7b3; --bg: #0d1117; --line: #30363d; --bad: #ff7b72; --warn: #d29922; --ok: #3fb950; --accent: #58a6ff; } }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); margin: 0; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .6rem 1.2rem; border-bottom: 1px solid var(--line); }
header nav a { margin-right: 1rem; }
header form { margin-left: auto; display: flex; gap: .4rem; }
main { padding: 1rem 1.2rem 3rem; max-width: 90rem; }
a { color: var(--accent); }
h1 { font-size: 1.4rem; margin: .4rem 0 1rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem; border-bottom: 1px solid var(--line); }
th { font-weight: 600; white-space: nowrap; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.state-running, .outcome-delivered, .state-delivered { color: var(--ok); } .state-paused, .outcome-dead, .state-dead { color: var(--bad); font-weight: 600; }
.state-failing { color: var(--bad); font-weight: 600; }
.stalled { white-space: nowrap; }
.state-throttled, .outcome-throttled, .outcome-retrying, .outcome-retried, .state-retrying, .state-delayed, .outcome-paused { color: var(--warn); }
.muted { color: var(--muted); } .error { color: var(--bad); } .notice { padding: .5rem .8rem; border: 1px solid var(--line); border-left: 4px solid var(--accent); margin: 0 0 1rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; } dt { font-weight: 600; } dd { margin: 0; }
form.inline { display: inline; } button { font: inherit; padding: .2rem .7rem; cursor: pointer; }
button.danger { color: var(--bad); } .actions { display: flex; flex-wrap: wrap; gap: .5rem; margin: .5rem 0; }
input[type=text], input[type=search], select { font: inherit; padding: .2rem .4rem; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; word-break: break-all; }
ul.plain { list-style: none; margin: 0; padding: 0; }
/* Wide tables scroll inside their own box, not the page. */
.table-scroll { overflow-x: auto; margin: .5rem 0 1rem; } .table-scroll > table { margin: 0; }
.table-scroll thead th { white-space: normal; min-width: 3.5rem; } .table-scroll th, .table-scroll td { padding: .35rem .4rem; } .table-note { font-size: .9em; margin: .3rem 0; }
.nowrap, td.host, td.num { white-space: nowrap; } td.host.mono { word-break: normal; } .small { font-size: .85em; font-weight: normal; }
.ellipsis { display: inline-block; max-width: 12rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; vertical-align: bottom; }
/* A long error: two lines at most, the full text in the title (hover) and in the DOM (screen readers, copy). */
.clamp { display: -webkit-box; -webkit-box-orient: vertical; -webkit-line-clamp: 2; line-clamp: 2; overflow: hidden; max-width: 20rem; min-width: 10rem; overflow-wrap: anywhere; }
svg.sparkline { display: block; overflow: visible; } .spark-bg { fill: var(--line); opacity: .35; } .spark-ok { fill: var(--ok); } .spark-bad { fill: var(--bad); }
.spark-axis { fill: var(--muted); font-size: 11px; } .legend-ok { color: var(--ok); } .legend-bad { color: var(--bad); }
fieldset.filters { border: 1px solid var(--line); display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; padding: .5rem .8rem; margin: 0 0 1rem; }
fieldset.filters label { display: flex; flex-direction: column; font-size: .85em; color: var(--muted); }
figure.spark-figure { margin: .5rem 0 1rem; } figure.spark-figure figcaption { margin-top: .3rem; font-size: .9em; }
.pager { display: flex; gap: 1rem; margin: .5rem 0; }
`;

/**
 * Reloads a live page every `data-refresh` seconds, unless the person is typing, has text selected or the tab is
 * hidden: a meta refresh would throw away a half-typed lead id or pause reason. Served from /assets (CSP: script-src 'self').
 */
export const REFRESH_SCRIPT = `(() => {
  const seconds = Number(document.body.dataset.refresh);
  if (!seconds) return;
  setInterval(() => {
    const active = document.activeElement;
    if (active && ['INPUT', 'TEXTAREA', 'SELECT'].includes(active.tagName)) return;
    if (String(document.getSelection() || '') !== '' || document.hidden) return;
    location.reload();
  }, seconds * 1000);
})();
`;

/** How often live pages (destinations, one destination, one lead) reload themselves. */
export const PAGE_REFRESH_SECONDS = 15;

export interface LayoutOptions {
  /** Reload every this many seconds while nobody types (REFRESH_SCRIPT). Default: never. */
  refreshSeconds?: number;
}

export function layout(title: string, body: SafeHtml, options: LayoutOptions = {}): SafeHtml {
  const refresh = options.refreshSeconds;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · LeadRelay ops</title>
<link rel="stylesheet" href="/assets/ops.css">
${refresh ? html`<script src="/assets/refresh.js" defer></script>` : ''}
</head>
<body${refresh ? html` data-refresh="${String(refresh)}"` : ''}>
<header>
  <strong>LeadRelay ops</strong>
  <nav aria-label="Main">
    <a href="/">Destinations</a>
    <a href="/dlq">Dead letters</a>
    <a href="/leads">Lead search</a>
    <a href="/queues/">Queues (bull-board)</a>
  </nav>
  <form method="get" action="/leads" role="search">
    <label for="lead-lookup">Lead id</label>
    <input id="lead-lookup" type="search" name="id" required maxlength="128" pattern="[A-Za-z0-9._\\-]{1,128}">
    <button type="submit">Find lead</button>
  </form>
</header>
<main>
${body}
</main>
</body>
</html>`;
}

/** A POST form with one button (and the CSRF token): the only way a page changes anything. */
export function postButton(ctx: PageContext, action: string, label: string, fields: Record<string, string | undefined> = {}, options: { danger?: boolean; ariaLabel?: string } = {}): SafeHtml {
  const hidden = Object.entries(fields).filter(([, v]) => v !== undefined)
    .map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`);
  return html`<form class="inline" method="post" action="${action}"><input type="hidden" name="_csrf" value="${ctx.csrf}">${hidden}<button type="submit"${options.danger ? html` class="danger"` : ''}${options.ariaLabel ? html` aria-label="${options.ariaLabel}"` : ''}>${label}</button></form>`;
}

export function time(iso: string | undefined): SafeHtml {
  if (!iso) return html`<span class="muted">–</span>`;
  const d = new Date(iso);
  const text = Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  return html`<time datetime="${iso}">${text}</time>`;
}

/** A time in a tight table cell: `14:05 UTC` within the last 24 hours, else the date; the full time in its title. */
export function shortTime(iso: string | undefined, now = Date.now()): SafeHtml {
  if (!iso) return html`<span class="muted">–</span>`;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return html`<time datetime="${iso}">${iso}</time>`;
  const full = d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const text = now - d.getTime() < 86_400_000 && d.getTime() <= now + 60_000 ? `${full.slice(11, 16)} UTC` : full.slice(0, 10);
  return html`<time datetime="${iso}" title="${full}">${text}</time>`;
}

export function stateLabel(s: Pick<DestinationStats, 'state' | 'throttledUntil'>): SafeHtml {
  if (s.state === 'throttled') return html`<span class="state-throttled">throttled until ${time(s.throttledUntil)}</span>`;
  if (s.state === 'failing') return html`<span class="state-failing" title="most of the latest attempts failed">failing</span>`;
  return html`<span class="state-${s.state}">${s.state}</span>`;
}

/** A 0..1 rate as a whole percentage; a dash when there was nothing to rate. */
/** Active jobs, with how many of them lost their worker (stalled: BullMQ moves them back to waiting shortly). */
export function activeCount(s: Pick<DestinationStats, 'active' | 'stalled'>): SafeHtml {
  return s.stalled > 0
    ? html`${s.active} <span class="state-failing stalled" title="their worker stopped; BullMQ's stalled check moves them back to waiting">(${s.stalled} stalled)</span>`
    : html`${s.active}`;
}

export function percent(rate: number | undefined): SafeHtml {
  return rate === undefined ? html`<span class="muted">–</span>` : html`${Math.round(rate * 100)}%`;
}

export function notice(text: string | undefined): SafeHtml {
  return text ? html`<p class="notice" role="status">${text}</p>` : html``;
}
