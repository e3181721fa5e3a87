import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { Relay } from '@leadrelay/queue';

/**
 * A route preHandler for `/destinations/:id…`: answers `notFound` (a problem+json for the API, a page
 * for the dashboard) when `:id` is not a configured destination, so handlers only see known ids.
 */
export function withDestination(relay: Relay, notFound: (reply: FastifyReply, id: string) => FastifyReply): preHandlerAsyncHookHandler {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const id = (req.params as { id?: string }).id ?? '';
    if (!relay.config.destinations.some((d) => d.id === id)) return notFound(reply, id);
  };
}
