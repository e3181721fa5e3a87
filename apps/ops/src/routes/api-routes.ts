import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LEAD_ID_PATTERN, PROBLEMS, problem, sendProblem } from '@leadrelay/core';
import { deadLetterFilterFrom, InvalidDeadLetterFilterError, maskDeadLetter, maskStatus, OrphanQueues, type DeadLetter, type DeadLetterFilterInput, type Relay } from '@leadrelay/queue';
import { readSourceHealth } from '@leadrelay/sources';
import { destinationDetail, destinationView } from '../destination-view.js';
import { withDestination } from './with-destination.js';

export interface ApiOptions {
  relay: Relay;
}

/** `dlq list --json` shape (README: CLI) plus every recorded error; the lead's customer data stays out of lists. */
export function deadLetterJson(dl: DeadLetter): Omit<DeadLetter, 'lead'> {
  const { lead: _lead, ...rest } = dl;
  return rest;
}


interface DlqBody extends DeadLetterFilterInput {
  destination?: unknown;
  leadId?: unknown;
  all?: unknown;
  dryRun?: unknown;
}

/**
 * JSON API under /api: the dashboard's data and actions for scripts. State changes are POSTs with a
 * JSON body (or none); a browser cannot send JSON cross-site without CORS, which is never granted.
 */
export async function apiRoutes(app: FastifyInstance, options: ApiOptions): Promise<void> {
  const { relay } = options;
  const known = (id: unknown): id is string => typeof id === 'string' && relay.config.destinations.some((d) => d.id === id);

  const destinationKnown = withDestination(relay, (reply, id) => sendProblem(reply, problem(PROBLEMS.unknownDestination, `There is no destination '${id}'.`)));

  /** Only JSON (or an empty body): text/plain is what a cross-site form could send. */
  const jsonBody = (req: FastifyRequest, reply: FastifyReply): Record<string, unknown> | undefined => {
    if (req.body === undefined || req.body === null) return {};
    if (typeof req.body === 'object' && !Array.isArray(req.body) && /^application\/json\b/i.test(req.headers['content-type'] ?? '')) return req.body as Record<string, unknown>;
    void sendProblem(reply, problem(PROBLEMS.unsupportedMediaType, 'Send a JSON object with Content-Type: application/json (or no body).'));
    return undefined;
  };

  app.get('/destinations', async () => Promise.all(relay.config.destinations.map((d) => destinationView(relay, d.id))));
  // Queues of destinations removed from (or renamed in) the config that still hold leads, with counts per state.
  app.get('/orphan-queues', async () => {
    const orphans = new OrphanQueues(relay);
    try {
      return await orphans.list();
    } finally {
      await orphans.close();
    }
  });

  // Every pull source as `leadrelay sources --json` prints it (state, watermark, lag, polls, leads found, last error, pause).
  app.get('/sources', async () => readSourceHealth(relay));

  app.get<{ Params: { id: string } }>('/destinations/:id', { preHandler: destinationKnown }, async (req) => {
    return destinationDetail(relay, req.params.id);
  });

  app.post<{ Params: { id: string } }>('/destinations/:id/pause', { preHandler: destinationKnown }, async (req, reply) => {
    const body = jsonBody(req, reply);
    if (!body) return reply;
    const reason = typeof body.reason === 'string' && body.reason.trim() ? body.reason.trim().slice(0, 200) : 'paused by an operator';
    await relay.pause(req.params.id, { by: 'operator', reason });
    return destinationDetail(relay, req.params.id);
  });

  app.post<{ Params: { id: string } }>('/destinations/:id/resume', { preHandler: destinationKnown }, async (req, reply) => {
    if (!jsonBody(req, reply)) return reply;
    await relay.resume(req.params.id);
    return destinationDetail(relay, req.params.id);
  });

  /** `?pii=1` shows the customer's values; masked otherwise. */
  const showPii = (req: FastifyRequest) => (req.query as { pii?: string }).pii === '1';

  /** The time, code and offer filters of a query or body, or a 400 problem naming the field that cannot be read. */
  const filtersOf = (input: DeadLetterFilterInput, reply: FastifyReply): ReturnType<typeof deadLetterFilterFrom> | undefined => {
    try {
      return deadLetterFilterFrom(input);
    } catch (e) {
      if (!(e instanceof InvalidDeadLetterFilterError)) throw e;
      void sendProblem(reply, problem(PROBLEMS.badRequest, `${e.message}.`, [{ path: e.field, message: e.message.slice(e.field.length + 2) }]));
      return undefined;
    }
  };

  app.get<{ Querystring: DeadLetterFilterInput & { destination?: string; leadId?: string; pii?: string } }>('/dlq', async (req, reply) => {
    const { destination, leadId } = req.query;
    if (destination && !known(destination)) return sendProblem(reply, problem(PROBLEMS.unknownDestination, `There is no destination '${destination}'.`));
    if (leadId && !LEAD_ID_PATTERN.test(leadId)) return sendProblem(reply, problem(PROBLEMS.invalidLeadId, 'leadId must match ^[A-Za-z0-9._-]{1,128}$.'));
    const filters = filtersOf(req.query, reply);
    if (!filters) return reply;
    const letters = await relay.deadLetters({ ...(destination ? { destination } : {}), ...(leadId ? { leadId } : {}), ...filters });
    return letters.map((dl) => deadLetterJson(showPii(req) ? dl : maskDeadLetter(dl)));
  });

  /** `{destination?, leadId}` for one lead or `{destination?, all: true}` for every dead letter (at one destination or all). */
  const dlqAction = (action: 'replay' | 'purge') => async (req: FastifyRequest, reply: FastifyReply) => {
    const body = jsonBody(req, reply) as DlqBody | undefined;
    if (!body) return reply;
    const { destination, leadId, all } = body;
    if (destination !== undefined && !known(destination)) return sendProblem(reply, problem(PROBLEMS.unknownDestination, `There is no destination '${String(destination)}'.`));
    if (leadId !== undefined && (typeof leadId !== 'string' || !LEAD_ID_PATTERN.test(leadId))) return sendProblem(reply, problem(PROBLEMS.invalidLeadId, 'leadId must match ^[A-Za-z0-9._-]{1,128}$.'));
    if ((leadId === undefined) === (all !== true)) return sendProblem(reply, problem(PROBLEMS.badRequest, `Choose what to ${action}: send either leadId or all: true.`));
    const filters = filtersOf(body, reply);
    if (!filters) return reply;
    const filter = { ...(destination ? { destination: destination as string } : {}), ...(leadId ? { leadId: leadId as string } : {}), ...filters };
    if (body.dryRun === true) return action === 'replay' ? { wouldReplay: (await relay.deadLetters(filter)).length } : { wouldPurge: (await relay.deadLetters(filter)).length };
    return action === 'replay' ? { replayed: await relay.replay(filter) } : { purged: await relay.purge(filter) };
  };
  app.post('/dlq/replay', dlqAction('replay'));
  app.post('/dlq/purge', dlqAction('purge'));

  app.get<{ Params: { id: string } }>('/leads/:id', async (req, reply) => {
    const status = LEAD_ID_PATTERN.test(req.params.id) ? await relay.status(req.params.id) : undefined;
    if (!status) return sendProblem(reply, problem(PROBLEMS.leadNotFound, `No lead '${req.params.id}' was accepted (or it is older than leads.retention).`));
    return showPii(req) ? status : maskStatus(status, await relay.leads.getLead(req.params.id));
  });
}
