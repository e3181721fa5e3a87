import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { Relay } from '@leadrelay/queue';

export const BULL_BOARD_PATH = '/queues';

/**
 * bull-board over every destination queue, read-only: replay, purge and pause go through LeadRelay
 * (dashboard, API, CLI) so the lead's status and the pause reason stay true; a job retried or
 * removed behind LeadRelay's back would leave them stale.
 */
export async function registerBullBoard(app: FastifyInstance, relay: Relay): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: relay.config.destinations.map((d) => new BullMQAdapter(relay.queue(d.id), { readOnlyMode: true, description: `${d.type} destination` })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'LeadRelay queues' } },
  });
  await app.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
}
