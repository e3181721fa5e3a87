import { parse as parseQuery } from 'node:querystring';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { InboxMetrics, logStarted, registerProbeRoutes, type RunningService } from '@leadrelay/observability';
import { ReceivedLeads, type ReceivedLead } from './received-leads.js';

export interface InboxOptions {
  /** Standard Webhooks secret (`whsec_<base64>`). When set, unsigned or wrongly signed requests get 401. Default: none, nothing verified. */
  signingSecret?: string;
  /** How many leads `GET /` keeps (default 1000). */
  capacity?: number;
  /** Fastify's logger option. Default: pino JSON on stdout at `$LOG_LEVEL` (default info). */
  logger?: FastifyServerOptions['logger'];
  /** Largest body accepted, in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Served on /metrics (default: a new InboxMetrics). */
  metrics?: InboxMetrics;
}

/** Body keys safe to log: what identifies a lead without personal data (customer data is logged at debug level only, README: Operations → Logs). */
const SUMMARY_KEYS = ['id', 'source', 'action', 'offer', 'LeadSource', 'ActionCode', 'OfferTitle', 'lead_source'];

function summary(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return {};
  return Object.fromEntries(SUMMARY_KEYS.filter((k) => k in body).map((k) => [k, (body as Record<string, unknown>)[k]]));
}

function parseBody(raw: string, contentType: string | undefined): unknown {
  if (raw === '') return undefined;
  if (contentType?.includes('application/x-www-form-urlencoded')) return { ...parseQuery(raw) };
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

function webhookFor(secret: string): Webhook {
  try {
    return new Webhook(secret);
  } catch {
    // The secret itself stays out of the message.
    throw new Error("the signing secret must be a Standard Webhooks secret: 'whsec_' followed by base64");
  }
}

/**
 * A webhook receiver to watch leads arrive (the `inbox` destination in leadrelay.yaml): accepts a
 * POST on any path, checks its Standard Webhooks signature when it has a secret, logs one JSON
 * line per lead and lists the last ones at `GET /`. Returned un-listened: tests use `inject`.
 */
export function buildInbox(options: InboxOptions = {}): FastifyInstance {
  const webhook = options.signingSecret ? webhookFor(options.signingSecret) : undefined;
  const leads = new ReceivedLeads(options.capacity ?? 1000);
  const app = Fastify({
    logger: options.logger ?? { level: process.env.LOG_LEVEL ?? 'info' },
    logController: new LogController({ disableRequestLogging: true }), // one line per lead, not two per request
    bodyLimit: options.bodyLimit ?? 1_048_576,
  });

  // The signature covers the exact bytes, so every body is kept raw and parsed only after verification.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  // The probes every LeadRelay app serves; ready once listening (no Redis here), metrics of its own.
  const metrics = options.metrics ?? new InboxMetrics();
  registerProbeRoutes(app, { metrics });
  app.get('/', async () => ({ received: leads.total, kept: leads.list().length, leads: leads.list() }));
  app.delete('/', async (_req, reply) => {
    leads.clear();
    return reply.code(204).send();
  });

  app.post('/*', async (req, reply) => {
    const raw = typeof req.body === 'string' ? req.body : '';
    // Without the query string: a receiver URL may carry a key there (`?code=`), which must not be logged or listed.
    const path = req.url.split('?')[0]!;
    const contentType = headerValue(req.headers['content-type']);
    const webhookId = headerValue(req.headers['webhook-id']);
    if (webhook) {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, headerValue(v) ?? '']));
      try {
        webhook.verify(raw, headers, { jsonParse: false });
      } catch (e) {
        const reason = e instanceof WebhookVerificationError ? e.message : 'signature check failed';
        req.log.warn({ path, webhookId, reason }, 'rejected: bad signature');
        metrics.rejected.inc();
        return reply.code(401).send({ error: 'invalid signature', reason });
      }
    }
    const lead: ReceivedLead = leads.add({
      receivedAt: new Date().toISOString(),
      path,
      ...(contentType ? { contentType } : {}),
      ...(webhookId ? { webhookId } : {}),
      verified: webhook !== undefined,
      body: parseBody(raw, contentType),
    });
    metrics.leadsReceived.inc({ verified: String(lead.verified) });
    req.log.info({ seq: lead.seq, path: lead.path, webhookId, verified: lead.verified, duplicate: lead.duplicate, ...summary(lead.body) }, 'lead received');
    return reply.code(200).send({ received: true, seq: lead.seq, duplicate: lead.duplicate });
  });

  return app;
}

export interface RunningInbox extends RunningService {
  readonly name: 'inbox';
  app: FastifyInstance;
  /** Where it listens, e.g. http://0.0.0.0:8081. */
  readonly address: string;
}

/** Starts the inbox from environment variables: INBOX_PORT (8081), INBOX_HOST (0.0.0.0), INBOX_SIGNING_SECRET (optional). */
export async function startInbox(env: Record<string, string | undefined> = process.env, options: Omit<InboxOptions, 'signingSecret'> = {}): Promise<RunningInbox> {
  const port = Number(env.INBOX_PORT || 8081);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`INBOX_PORT must be a port number (got '${env.INBOX_PORT}')`);
  const app = buildInbox({ ...options, ...(env.INBOX_SIGNING_SECRET ? { signingSecret: env.INBOX_SIGNING_SECRET } : {}) });
  const address = await app.listen({ port, host: env.INBOX_HOST || '0.0.0.0' });
  let stopping: Promise<void> | undefined;
  const running: RunningInbox = { name: 'inbox', app, address, stop: () => (stopping ??= app.close()) };
  logStarted(app.log, running, { verifying: Boolean(env.INBOX_SIGNING_SECRET) });
  return running;
}
