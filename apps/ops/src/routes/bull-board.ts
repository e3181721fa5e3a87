import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { DeliveryJobData, Relay } from '@leadrelay/queue';
import { maskLead } from '@leadrelay/core';

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
    queues: relay.config.destinations.map((d) => {
      const adapter = new BullMQAdapter(relay.queue(d.id), { readOnlyMode: true, description: `${d.type} destination` });
      // Jobs carry the whole lead: personal data masked, as on every other ops page.
      adapter.setFormatter('data', (data: DeliveryJobData) => (data?.lead ? { ...data, lead: maskLead(data.lead) } : data));
      return adapter;
    }),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'LeadRelay queues' } },
  });
  await app.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
}
