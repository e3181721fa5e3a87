import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LEAD_ID_PATTERN } from '@leadrelay/core';
import { destinationDetail, destinationView } from '../destination-view.js';
import { withDestination } from './with-destination.js';
import type { CsrfGuard } from '../csrf-guard.js';
import type { SafeHtml } from '../safe-html.js';
import { deadLetterFilterFrom, InvalidDeadLetterFilterError, InvalidLeadSearchError, LEAD_SEARCH_STATES, leadSearchFilterFrom, maskDeadLetter, maskLeadSummary, maskStatus, type DeadLetter, type DeadLetterFilter, type Relay } from '@leadrelay/queue';
import { maskLead } from '@leadrelay/core';
import { readSourceHealth } from '@leadrelay/sources';
import { REFRESH_SCRIPT, STYLESHEET, type PageContext } from '../views/components.js';
import { homePage } from '../views/home-page.js';
import { destinationPage } from '../views/destination-page.js';
import { deadLetterPage } from '../views/dead-letter-page.js';
import { leadPage } from '../views/lead-page.js';
import { LEAD_SEARCH_FIELDS, leadSearchPage, type LeadSearchText } from '../views/lead-search-page.js';
import { confirmBulkPage, confirmPurgePage, messagePage } from '../views/message-pages.js';
import { filterQuery, filterTextOf, type DeadLetterFilterText, type ReturnTo } from '../views/dead-letter-table.js';

export interface DashboardOptions {
  relay: Relay;
  csrf: CsrfGuard;
  username: string;
  /** Dead letters listed per destination on a page (default 500). */
  listLimit?: number;
}

/** No script runs on these pages, styles come from our one stylesheet, forms only post here, and no site may frame them. */
export const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

type Form = Record<string, string | undefined>;

/** Leads per lead-search page (`?limit=` overrides, 1-1000). */
const SEARCH_PAGE_SIZE = 25;

export function sendPage(reply: FastifyReply, page: SafeHtml, status = 200): FastifyReply {
  return reply.code(status).header('content-security-policy', PAGE_CSP).type('text/html; charset=utf-8').send(page.value);
}

/** The server-rendered dashboard: destinations, one destination, dead letters, lead lookup; POST forms with a CSRF token. */
export async function dashboardRoutes(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  const { relay, csrf } = options;
  const limit = options.listLimit ?? 500;
  const ctx: PageContext = { csrf: csrf.token(options.username), showPii: false };
  const ids = () => relay.config.destinations.map((d) => d.id);
  const known = (id: string | undefined): id is string => !!id && ids().includes(id);

  /** `?pii=1` (the "Show personal data" toggle) shows customer values; masked otherwise. */
  const pageCtx = (req: FastifyRequest): PageContext => ({ ...ctx, showPii: (req.query as { pii?: string } | undefined)?.pii === '1' });
  const shown = (req: FastifyRequest, letters: DeadLetter[]) => (pageCtx(req).showPii ? letters : letters.map(maskDeadLetter));

  const destinationKnown = withDestination(relay, (reply, id) => sendPage(reply, messagePage('Not found', `There is no destination '${id}'.`, 404), 404));

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16_384 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  /** A form must carry this user's token; otherwise nothing runs. */
  const formOf = (req: FastifyRequest, reply: FastifyReply): Form | undefined => {
    const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Form;
    if (csrf.validToken(options.username, body._csrf)) return body;
    void sendPage(reply, messagePage('Form refused', 'This form did not come from this dashboard, or it is out of date (the ops password changed). Reload the page and try again.'), 403);
    return undefined;
  };

  app.get('/assets/ops.css', async (_req, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'private, max-age=300').send(STYLESHEET));
  app.get('/assets/refresh.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'private, max-age=300').send(REFRESH_SCRIPT));

  app.get('/', async (_req, reply) => {
    const [destinations, sources] = await Promise.all([Promise.all(ids().map((id) => destinationView(relay, id))), readSourceHealth(relay)]);
    return sendPage(reply, homePage(destinations, sources));
  });

  app.get<{ Params: { id: string }; Querystring: Notice }>('/destinations/:id', { preHandler: destinationKnown }, async (req, reply) => {
    const [detail, letters] = await Promise.all([destinationDetail(relay, req.params.id), relay.deadLetters({ destination: req.params.id, limit })]);
    return sendPage(reply, destinationPage(pageCtx(req), detail, shown(req, letters), noticeText(req.query)));
  });

  app.post<{ Params: { id: string } }>('/destinations/:id/pause', { preHandler: destinationKnown }, async (req, reply) => {
    const form = formOf(req, reply);
    if (!form) return reply;
    const reason = form.reason?.trim().slice(0, 200) || 'paused by an operator';
    await relay.pause(req.params.id, { by: 'operator', reason });
    return reply.redirect(`/destinations/${encodeURIComponent(req.params.id)}?done=paused`, 303);
  });

  app.post<{ Params: { id: string } }>('/destinations/:id/resume', { preHandler: destinationKnown }, async (req, reply) => {
    if (!formOf(req, reply)) return reply;
    await relay.resume(req.params.id);
    return reply.redirect(`/destinations/${encodeURIComponent(req.params.id)}?done=resumed`, 303);
  });

  /** The filter's times, code and offer read (`dlq list` semantics), or why a field cannot be read. */
  const readFilter = (text: DeadLetterFilterText): { filter: DeadLetterFilter } | { error: string } => {
    if (text.destination !== undefined && !known(text.destination)) return { error: `There is no destination '${text.destination}'.` };
    try {
      return { filter: { ...(text.destination ? { destination: text.destination } : {}), ...deadLetterFilterFrom(text) } };
    } catch (e) {
      if (e instanceof InvalidDeadLetterFilterError) return { error: `${e.message}.` };
      throw e;
    }
  };

  app.get<{ Querystring: Notice & DeadLetterFilterText }>('/dlq', async (req, reply) => {
    const text = filterTextOf(req.query as Record<string, unknown>);
    const read = readFilter(text);
    const page = { filter: text, destinations: ids(), notice: noticeText(req.query), limit };
    if ('error' in read) {
      const unknownDestination = text.destination !== undefined && !known(text.destination);
      return sendPage(reply, deadLetterPage(pageCtx(req), [], { ...page, error: read.error }), unknownDestination ? 404 : 400);
    }
    const letters = await relay.deadLetters({ ...read.filter, limit });
    return sendPage(reply, deadLetterPage(pageCtx(req), shown(req, letters), page));
  });

  /**
   * Replay or purge: one lead (`leadId`), or every dead letter a filter matches (`all=1` with destination, since, until,
   * code, offer). Every bulk action, and purging one lead, first answers a page with the count; `confirm=yes` acts.
   */
  const dlqAction = (action: 'replay' | 'purge') => async (req: FastifyRequest, reply: FastifyReply) => {
    const form = formOf(req, reply);
    if (!form) return reply;
    const text = filterTextOf(form);
    const leadId = form.leadId || undefined;
    if (text.destination !== undefined && !known(text.destination)) return sendPage(reply, messagePage('Not found', `There is no destination '${text.destination}'.`, 404), 404);
    if (!leadId && form.all !== '1') return sendPage(reply, messagePage('Nothing chosen', 'Choose one lead, or all dead letters.'), 400);
    if (leadId && !LEAD_ID_PATTERN.test(leadId)) return sendPage(reply, messagePage('Not a lead id', `'${leadId}' is not a lead id.`), 400);
    const read = readFilter(text);
    if ('error' in read) return sendPage(reply, messagePage('Filter not understood', read.error), 400);
    const destination = text.destination;
    const filter: DeadLetterFilter = { ...read.filter, ...(leadId ? { leadId } : {}) };
    const returnTo: ReturnTo = form.return === 'destination' && destination ? 'destination' : form.return === 'lead' && leadId ? 'lead' : 'dlq';
    if (form.confirm !== 'yes' && (action === 'purge' || !leadId)) {
      if (leadId) {
        const count = (await relay.deadLetters(filter)).length;
        return sendPage(reply, confirmPurgePage(ctx, { ...(destination ? { destination } : {}), leadId, return: returnTo }, count));
      }
      // Pinned for the second step: absolute times, and an end at now so what failed meanwhile is not swept in.
      const pinned: DeadLetterFilter = { ...filter, until: filter.until ?? Date.now() + 1 };
      const count = (await relay.deadLetters(pinned)).length;
      return sendPage(reply, confirmBulkPage(ctx, action, absoluteText(pinned), returnTo, count));
    }
    const n = action === 'replay' ? await relay.replay(filter) : await relay.purge(filter);
    const done = `done=${action === 'replay' ? 'replayed' : 'purged'}&n=${n}`;
    const query = filterQuery(leadId ? (destination ? { destination } : {}) : text);
    const target = returnTo === 'destination' ? `/destinations/${encodeURIComponent(destination!)}?${done}`
      : returnTo === 'lead' ? `/leads/${encodeURIComponent(leadId!)}?${done}`
        : `/dlq?${query ? `${query}&` : ''}${done}`;
    return reply.redirect(target, 303);
  };
  app.post('/dlq/replay', dlqAction('replay'));
  app.post('/dlq/purge', dlqAction('purge'));

  /** `?id=` (the header's lookup box) goes to that lead; otherwise the lead search: `leadrelay leads` as a page. */
  app.get<{ Querystring: LeadSearchText & { id?: string; cursor?: string; limit?: string; pii?: string } }>('/leads', async (req, reply) => {
    const q = req.query;
    if (q.id !== undefined) {
      const id = q.id.trim();
      if (!LEAD_ID_PATTERN.test(id)) return sendPage(reply, messagePage('Not a lead id', `'${id}' is not a lead id: ids are 1-128 letters, digits, '.', '_' or '-'.`), 400);
      return reply.redirect(`/leads/${encodeURIComponent(id)}`, 303);
    }
    const search: LeadSearchText = {};
    for (const k of LEAD_SEARCH_FIELDS) {
      const v = q[k];
      if (typeof v === 'string' && v.trim() !== '') search[k] = v.trim().slice(0, 320);
    }
    const limit = q.limit ? Number(q.limit) : SEARCH_PAGE_SIZE;
    const base = { search, destinations: ids(), states: LEAD_SEARCH_STATES, paged: !!q.cursor, ...(q.limit ? { limit } : {}) };
    const c = pageCtx(req);
    if (!search.email && !search.offer && !search.since) {
      return sendPage(reply, leadSearchPage(c, { ...base, ...(search.state || search.destination ? { error: 'Give an email, an offer or a time (since) to search by; state and destination only narrow a search.' } : {}) }), search.state || search.destination ? 400 : 200);
    }
    const refuse = (error: string, status = 400) => sendPage(reply, leadSearchPage(c, { ...base, error }), status);
    try {
      const filter = leadSearchFilterFrom({ ...search, limit: String(limit), ...(q.cursor ? { cursor: q.cursor } : {}) }, ids());
      const found = await relay.findLeads(filter);
      const leads = c.showPii ? found.leads : found.leads.map(maskLeadSummary);
      return sendPage(reply, leadSearchPage(c, { ...base, leads, ...(found.cursor ? { next: found.cursor } : {}) }));
    } catch (e) {
      if (!(e instanceof InvalidLeadSearchError)) throw e;
      if (e.field === 'destination') return refuse(`There is no destination '${search.destination}'.`, 404);
      return refuse(`${e.message}.`);
    }
  });

  app.get<{ Params: { id: string }; Querystring: Notice }>('/leads/:id', async (req, reply) => {
    const id = req.params.id;
    const status = LEAD_ID_PATTERN.test(id) ? await relay.status(id) : undefined;
    if (!status) return sendPage(reply, messagePage('Lead not found', `No lead '${id}' was accepted (or it is older than leads.retention).`, 404), 404);
    const lead = await relay.leads.getLead(id);
    const pii = pageCtx(req).showPii;
    return sendPage(reply, leadPage(pageCtx(req), pii ? status : maskStatus(status, lead), lead && !pii ? maskLead(lead) : lead, noticeText(req.query)));
  });
}

interface Notice {
  done?: string;
  n?: string;
}

/** Notices are chosen from a fixed set; nothing from the query string is echoed. */
function noticeText(q: Notice): string | undefined {
  const n = Number.parseInt(q.n ?? '', 10);
  const count = Number.isFinite(n) && n >= 0 ? n : 0;
  switch (q.done) {
    case 'replayed': return `${count} dead-lettered ${count === 1 ? 'delivery' : 'deliveries'} re-queued with fresh attempts.`;
    case 'purged': return `${count} dead-lettered ${count === 1 ? 'delivery' : 'deliveries'} deleted.`;
    case 'paused': return 'Delivery paused. Leads keep queueing until you resume.';
    case 'resumed': return 'Delivery resumed.';
    default: return undefined;
  }
}

/** A read filter as form text again, times as ISO-8601 (so the confirm step acts on the window that was counted). */
function absoluteText(f: DeadLetterFilter): DeadLetterFilterText {
  return {
    ...(f.destination ? { destination: f.destination } : {}),
    ...(f.since !== undefined ? { since: new Date(f.since).toISOString() } : {}),
    ...(f.until !== undefined ? { until: new Date(f.until).toISOString() } : {}),
    ...(f.code ? { code: f.code } : {}), ...(f.offer ? { offer: f.offer } : {}),
  };
}
