import type { FastifyInstance } from 'fastify';
import { PROBLEMS, problem, sendProblem } from '@leadrelay/core';
import { deadLetterFilterFrom, InvalidDeadLetterFilterError, InvalidLeadSearchError, maskLeadSummary, type DeliveryState, type Relay } from '@leadrelay/queue';

export interface LeadSearchRouteOptions {
  relay: Relay;
}

/** The delivery states a search may narrow by (`--state`). */
export const LEAD_STATES: DeliveryState[] = ['queued', 'retrying', 'delayed', 'delivered', 'dead', 'skipped', 'paused'];

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
    const q = req.query;
    const bad = (field: string, message: string) => sendProblem(reply, problem(PROBLEMS.badRequest, `${field}: ${message}.`, [{ path: field, message }]));
    let since: number | undefined;
    try {
      since = deadLetterFilterFrom({ since: q.since }).since;
    } catch (e) {
      if (e instanceof InvalidDeadLetterFilterError) return bad('since', e.message.slice(e.field.length + 2));
      throw e;
    }
    if (q.state !== undefined && !LEAD_STATES.includes(q.state as DeliveryState)) return bad('state', `must be one of ${LEAD_STATES.join(', ')}`);
    if (q.destination !== undefined && !relay.config.destinations.some((d) => d.id === q.destination)) {
      return sendProblem(reply, problem(PROBLEMS.unknownDestination, `There is no destination '${q.destination}'.`));
    }
    const limit = q.limit === undefined ? undefined : Number(q.limit);
    try {
      const page = await relay.findLeads({
        ...(q.email !== undefined ? { email: q.email } : {}), ...(q.offer !== undefined ? { offer: q.offer } : {}), ...(since !== undefined ? { since } : {}),
        ...(q.state ? { state: q.state as DeliveryState } : {}), ...(q.destination ? { destination: q.destination } : {}),
        ...(limit !== undefined ? { limit } : {}), ...(q.cursor ? { cursor: q.cursor } : {}),
      });
      const leads = q.pii === '1' ? page.leads : page.leads.map(maskLeadSummary);
      return { leads, ...(page.cursor ? { cursor: page.cursor } : {}) };
    } catch (e) {
      if (e instanceof InvalidLeadSearchError) return bad(e.field === 'filter' ? 'email' : e.field, e.field === 'filter' ? 'give email, offer or since' : e.message.slice(e.field.length + 2));
      throw e;
    }
  });
}
