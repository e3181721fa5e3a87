import type { FastifyInstance } from 'fastify';
import { PROBLEMS, problem, sendProblem } from '@leadrelay/core';
import { InvalidLeadSearchError, leadSearchFilterFrom, maskLeadSummary, type Relay } from '@leadrelay/queue';

export interface LeadSearchRouteOptions {
  relay: Relay;
}

interface LeadSearchQuery {
  email?: string;
  offer?: string;
  since?: string;
  state?: string;
  destination?: string;
  limit?: string;
  cursor?: string;
  pii?: string;
}

/**
 * `GET /api/leads?email=|offer=|since=[&state=&destination=&limit=&cursor=&pii=1]`: `leadrelay leads --json`
 * (README: CLI) over HTTP, from the lead index, masked unless `pii=1`; a filter that cannot be read is a 400 problem naming it.
 */
export async function leadSearchRoutes(app: FastifyInstance, options: LeadSearchRouteOptions): Promise<void> {
  const { relay } = options;
  app.get<{ Querystring: LeadSearchQuery }>('/leads', async (req, reply) => {
    const { pii, ...q } = req.query;
    const bad = (field: string, message: string) => sendProblem(reply, problem(PROBLEMS.badRequest, `${field}: ${message}.`, [{ path: field, message }]));
    let filter;
    try {
      filter = leadSearchFilterFrom(q, relay.config.destinations.map((d) => d.id));
    } catch (e) {
      if (!(e instanceof InvalidLeadSearchError)) throw e;
      if (e.field === 'destination') return sendProblem(reply, problem(PROBLEMS.unknownDestination, `There is no destination '${q.destination}'.`));
      return bad(e.field === 'filter' ? 'email' : e.field, e.field === 'filter' ? 'give email, offer or since' : e.message.slice(e.field.length + 2));
    }
    try {
      const page = await relay.findLeads(filter);
      const leads = pii === '1' ? page.leads : page.leads.map(maskLeadSummary);
      return { leads, ...(page.cursor ? { cursor: page.cursor } : {}) };
    } catch (e) {
      if (e instanceof InvalidLeadSearchError) return bad(e.field, e.message.slice(e.field.length + 2));
      throw e;
    }
  });
}
