import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { Queue, type Job } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { DeliveryJobData, Relay } from '@leadrelay/queue';
import { maskLead } from '@leadrelay/core';
import { SOURCE_QUEUE, WRITE_BACK_QUEUE } from '@leadrelay/sources';

export const BULL_BOARD_PATH = '/queues';

/** bull-board's page links IBM Plex from Google Fonts: an ops page must not call the internet (air-gapped hosts, privacy). */
const REMOTE_FONTS = /<link[^>]+fonts\.googleapis\.com[^>]*>\s*/g;
const SYSTEM_SANS = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
const SYSTEM_MONO = 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace';
/** 24-hour times with seconds, as in every other LeadRelay view (bull-board defaults to the browser's 12-hour clock in en-US). */
const H23 = { hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' } as const;
/** Only this origin: its scripts, its styles (inline ones are bull-board's), its images and its API. */
export const BULL_BOARD_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'";

/** A stack trace's first line (`Error: message`): the rest names server paths, which no ops page shows. */
const firstLine = (trace: string) => trace.split('\n', 1)[0]!;

function withoutStack<J extends Job | undefined>(job: J): J {
  if (!job) return job;
  const toJSON = job.toJSON.bind(job);
  job.toJSON = () => {
    const props = toJSON();
    return { ...props, stacktrace: (props.stacktrace ?? []).map((t) => (typeof t === 'string' ? firstLine(t) : t)) };
  };
  return job;
}

/**
 * Source polls and write-backs fail with the error as thrown, stack included (delivery jobs strip theirs
 * where they fail): bull-board shows each job's failure as its message only.
 */
class MessageOnlyAdapter extends BullMQAdapter {
  override async getJob(id: string): Promise<Job | undefined> {
    return withoutStack(await super.getJob(id));
  }

  override async getJobs(...args: Parameters<BullMQAdapter['getJobs']>): Promise<Job[]> {
    return (await super.getJobs(...args)).map(withoutStack);
  }
}

/**
 * The queues of the pull sources (their polls and the daily reconciliation) and of referral write-backs,
 * shown once any source is configured. Their jobs hold ids only (source, lead and referral ids), no customer data.
 */
function sourceQueues(relay: Relay): { queue: Queue; description: string }[] {
  if (relay.config.sources.length === 0) return [];
  const open = (name: string) => {
    const q = new Queue(name, { connection: relay.redis, prefix: relay.keys.bullPrefix(name) });
    q.on('error', () => { /* surfaced by the page that failed */ });
    return q;
  };
  return [
    { queue: open(SOURCE_QUEUE), description: 'pull-source polls and the daily reconciliation' },
    { queue: open(WRITE_BACK_QUEUE), description: 'referral write-backs (externalReferenceId)' },
  ];
}

/**
 * bull-board over every destination queue and the source and write-back queues, read-only: replay,
 * purge and pause go through LeadRelay (dashboard, API, CLI) so the lead's status and the pause reason
 * stay true; a job retried or removed behind LeadRelay's back would leave them stale.
 */
export async function registerBullBoard(app: FastifyInstance, relay: Relay): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  const extra = sourceQueues(relay);
  app.addHook('onClose', async () => { await Promise.all(extra.map((e) => e.queue.close())); });
  createBullBoard({
    queues: [
      ...relay.config.destinations.map((d) => {
        const adapter = new BullMQAdapter(relay.queue(d.id), { readOnlyMode: true, description: `${d.type} destination` });
        // Jobs carry the whole lead: personal data masked, as on every other ops page.
        adapter.setFormatter('data', (data: DeliveryJobData) => (data?.lead ? { ...data, lead: maskLead(data.lead) } : data));
        return adapter;
      }),
      ...extra.map((e) => new MessageOnlyAdapter(e.queue, { readOnlyMode: true, description: e.description })),
    ],
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: 'LeadRelay queues',
        hideDocsLink: true,
        theme: { light: { 'font-sans': SYSTEM_SANS, 'font-mono': SYSTEM_MONO }, dark: { 'font-sans': SYSTEM_SANS, 'font-mono': SYSTEM_MONO } },
        dateFormats: {
          short: H23,
          common: { month: 'short', day: 'numeric', ...H23 },
          full: { year: 'numeric', month: 'short', day: 'numeric', ...H23 },
        },
      },
    },
  });
  await app.register(async (scope) => {
    scope.addHook('onSend', async (_request, reply, payload) => {
      if (!String(reply.getHeader('content-type') ?? '').includes('text/html')) return payload;
      reply.header('content-security-policy', BULL_BOARD_CSP);
      return typeof payload === 'string' ? payload.replace(REMOTE_FONTS, '') : payload;
    });
    await scope.register(serverAdapter.registerPlugin());
  }, { prefix: BULL_BOARD_PATH });
}
