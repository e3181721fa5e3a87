import basicAuth from '@fastify/basic-auth';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { assertDevCredentialsStayLocal, type LeadRelayConfig } from '@leadrelay/config';
import { ErrorCodes, PROBLEMS, problem, problemKindForStatus, sendProblem, type ProblemKind } from '@leadrelay/core';
import { createRuntime, logStarted, registerProbeRoutes, type RunningService, type Runtime } from '@leadrelay/observability';
import { Relay, exposeAuditMetric, exposeQueueMetrics, withTimeout } from '@leadrelay/queue';
import { CsrfGuard } from './csrf-guard.js';
import { OpsCredentials } from './ops-credentials.js';
import { OpsPasswordMissingError } from './ops-password-missing-error.js';
import { apiRoutes } from './routes/api-routes.js';
import { registerBullBoard } from './routes/bull-board.js';
import { leadSearchRoutes } from './routes/lead-search-routes.js';
import { dashboardRoutes, sendPage } from './routes/dashboard-routes.js';
import { messagePage } from './views/message-pages.js';

export interface OpsOptions {
  config: LeadRelayConfig;
  runtime?: Runtime;
  /** Use this Relay (tests); default: one opened (and closed) by the server. */
  relay?: Relay;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The ops server (README: Operations → Dashboard and ops API): `/healthz`, `/readyz` and `/metrics` open; everything else behind
 * `ops.username` / `ops.password`: the dashboard (`/`, `/destinations/:id`, `/dlq`, `/leads/:id`),
 * the JSON API under `/api`, and bull-board under `/queues`.
 */
export async function buildOpsServer(options: OpsOptions): Promise<{ app: FastifyInstance; relay: Relay }> {
  const { config } = options;
  const password = config.ops.password;
  if (!password) throw new OpsPasswordMissingError();
  const runtime = options.runtime ?? createRuntime({ name: 'ops', secretsFrom: config });
  const relay = options.relay ?? new Relay(config);
  exposeQueueMetrics(relay, runtime.metrics);
  exposeAuditMetric(relay, runtime.metrics);
  const app = Fastify({ logger: false });
  app.addHook('onClose', async () => { if (!options.relay) await relay.close(); });

  registerProbeRoutes(app, { ready: () => relay.ping(), metrics: runtime.metrics });

  const credentials = new OpsCredentials(config.ops.username, password);
  const csrf = new CsrfGuard(password);
  const log = runtime.logger.child({ component: 'ops' });

  await app.register(async (secured) => {
    await secured.register(basicAuth, {
      validate: async (username, pass) => {
        if (!credentials.matches(username, pass)) return new Error('wrong user name or password');
        return undefined;
      },
      authenticate: { realm: 'LeadRelay ops' },
    });
    secured.addHook('onRequest', secured.basicAuth);
    // After authentication: a forged cross-site request must not even learn more than a 401 would.
    secured.addHook('onRequest', async (req, reply) => {
      if (SAFE_METHODS.has(req.method)) return;
      const why = csrf.crossSiteReason(req);
      if (why) {
        log.warn({ method: req.method, url: req.url, why }, 'cross-site request refused');
        return sendProblem(reply, problem(PROBLEMS.crossSiteRefused, `This request did not come from the ops dashboard (${why}).`));
      }
    });
    secured.addHook('onSend', async (_req, reply, payload) => {
      reply.header('x-frame-options', 'DENY').header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'same-origin');
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
      // Pages show errors destinations sent; none should hold a configured secret, but never let one through.
      return typeof payload === 'string' ? runtime.redactor.redact(payload) : payload;
    });
    secured.setErrorHandler(async (error: FastifyError, req, reply) => {
      const unknownDestination = (error as { code?: string }).code === ErrorCodes.UNKNOWN_DESTINATION;
      const status = unknownDestination ? 404 : error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
      // A failure while Redis does not answer is an outage to wait out (503, Retry-After), not a bug.
      const redisDown = status === 500 && !(await withTimeout(relay.ping(), REDIS_CHECK_MS).catch(() => false));
      if (status === 500) log[redisDown ? 'warn' : 'error']({ err: error.message, method: req.method, url: req.url }, redisDown ? 'ops request failed: Redis does not answer' : 'ops request failed');
      const kind = redisDown ? PROBLEMS.unavailable : problemKindOf(status, unknownDestination);
      const detail = redisDown ? 'Redis does not answer; the page works again once it does.'
        : status === 500 ? 'The ops server could not answer. Details are in its log.' : error.message;
      if (redisDown) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      if (req.url.startsWith('/api/')) return sendProblem(reply, problem(kind, detail));
      return sendPage(reply, messagePage(kind.title, detail, kind.status), kind.status);
    });

    await secured.register(dashboardRoutes, { relay, csrf, username: config.ops.username });
    await secured.register(apiRoutes, { relay, prefix: '/api' });
    await secured.register(leadSearchRoutes, { relay, prefix: '/api' });
    await registerBullBoard(secured, relay);
  });
  return { app, relay };
}

/** How long the error handler waits for Redis to say whether it is the cause. */
const REDIS_CHECK_MS = 1000;
/** What a 503 tells the browser or script to wait, as intake's. */
const RETRY_AFTER_SECONDS = 5;

/** The catalogue's problem for an error the ops server raised or Fastify did (401 is basic auth's, not an API key's). */
function problemKindOf(status: number, unknownDestination: boolean): ProblemKind {
  if (unknownDestination) return PROBLEMS.unknownDestination;
  return status === 401 ? PROBLEMS.authenticationRequired : problemKindForStatus(status);
}

export interface RunningOps extends RunningService {
  readonly name: 'ops';
  app: FastifyInstance;
  /** `http://host:port` actually listened on. */
  readonly address: string;
}

/** `leadrelay ops`: listens on ops.host:ops.port until stopped. */
export async function startOps(options: OpsOptions): Promise<RunningOps> {
  if (!options.config.ops.password) throw new OpsPasswordMissingError();
  assertDevCredentialsStayLocal('ops', options.config.ops.host, 'password', [options.config.ops.password]);
  const runtime = options.runtime ?? createRuntime({ name: 'ops', secretsFrom: options.config });
  const { app } = await buildOpsServer({ ...options, runtime });
  const address = await app.listen({ host: options.config.ops.host, port: options.config.ops.port });
  let stopping: Promise<void> | undefined;
  const running: RunningOps = { name: 'ops', app, address, stop: () => (stopping ??= app.close()) };
  logStarted(runtime.logger, running, { dashboard: '/', bullBoard: '/queues' });
  return running;
}
