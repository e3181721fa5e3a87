import { parse as parseQueryString } from 'node:querystring';
import Fastify, {
  type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type onRequestHookHandler, type preParsingHookHandler,
} from 'fastify';
import type { LeadRelayConfig } from '@leadrelay/config';
import { ErrorCodes, LEAD_ID_PATTERN, findInvalidUtf8, findInvalidUtf8InForm, parseForm, parseJsonLead, problem, PROBLEMS, sendProblem, problemKindForStatus, type IntakeFormat, type InvalidUtf8, type ProblemBody } from '@leadrelay/core';
import { createRuntime, deferredChildLoggerFactory, registerProbeRoutes, tracingEnabled, type LeadRelayMetrics, type Logger } from '@leadrelay/observability';
import { DurabilityUnsupportedError, RedisTimeoutError, exposeQueueMetrics, withTimeout, Relay, type AcceptResult, type DurabilityWait } from '@leadrelay/queue';
import { ApiKeyVerifier, type ApiKeyVerdict } from './api-key-verifier.js';
import { clientErrorHandler } from './client-error.js';
import { IntakeLogController, serializeRequest, type RequestOutcome } from './intake-log-controller.js';
import { jobTraceOf, registerRequestTracing } from './request-tracing.js';

export interface IntakeServerOptions {
  config: LeadRelayConfig;
  /** Default: a fail-fast Relay on `config.redis`, closed with the server. A given relay is left open. */
  relay?: Relay;
  /** Default: pino JSON on stdout (`$LOG_LEVEL`, default info) with the config's secrets redacted. */
  logger?: Logger;
  /** Default: a new LeadRelayMetrics whose queue gauges read Redis on each scrape. */
  metrics?: LeadRelayMetrics;
  /**
   * How long one Redis operation (accept, status, ping) may take before intake answers 503; a backstop
   * for a hung server (the relay's own connection errors sooner when Redis is down). Default 5000 ms.
   * Queue gauges on /metrics wait at most min(this, 2000 ms), then the scrape answers without fresh gauges.
   */
  redisTimeoutMs?: number;
  /** `Retry-After` (seconds) on 503 answers. Default 5. */
  retryAfterSeconds?: number;
}

/** `leadrelay_leads_rejected_total{reason}` values. */
export const REJECT_REASONS = ['unauthorized', 'invalid', 'malformed', 'too_large', 'unsupported_media_type', 'unavailable'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

const FORMATS: readonly IntakeFormat[] = ['canonical', 'marketplace', 'form'];
const FORM_MEDIA_TYPE = 'application/x-www-form-urlencoded';
/** `application/*+json` (e.g. `application/vnd.contoso.lead+json`), tested against Fastify's normalised content type. */
const STRUCTURED_JSON = /^application\/[a-z0-9!#$&^_.-]+\+json(?:;|$)/;

/** Paths intake serves and their methods, so a wrong method is 405 with `Allow` rather than 404. */
const ALLOWED_METHODS: readonly [RegExp, string][] = [
  [/^\/v1\/leads\/?$/, 'POST'],
  [/^\/v1\/leads\/[^/]+\/?$/, 'GET, HEAD'],
  [/^\/(?:healthz|readyz|metrics)\/?$/, 'GET, HEAD'],
];

const ACCEPT_REPLY_SCHEMA = {
  type: 'object',
  properties: { id: { type: 'string' }, duplicate: { type: 'boolean' }, destinations: { type: 'array', items: { type: 'string' } }, mergedFrom: { type: 'string' } },
  required: ['id', 'duplicate', 'destinations'],
} as const;

/**
 * The intake HTTP server (README: Intake HTTP API): authenticates, parses the three body formats, hands the lead to
 * `relay.accept` (durable fan-out) and answers only once Redis holds it. Every error is problem+json.
 * Returns the Fastify instance un-listened: tests use `inject`, `startIntake` listens.
 */
export function buildIntakeServer(options: IntakeServerOptions): FastifyInstance {
  const { config } = options;
  const redisTimeoutMs = options.redisTimeoutMs ?? 5000;
  const retryAfter = String(options.retryAfterSeconds ?? 5);
  // Defaults as every app's (createRuntime): named logger with the config's secrets redacted, its own registry.
  const defaults = options.logger && options.metrics ? undefined : createRuntime({ name: 'intake', secretsFrom: config });
  const logger = options.logger ?? defaults!.logger;
  const metrics = options.metrics ?? defaults!.metrics;
  const ownsRelay = !options.relay;
  const relay = options.relay ?? new Relay(config);
  const verifier = new ApiKeyVerifier(config.intake.apiKeys);
  if (ownsRelay) logConnectionChanges(relay, logger);
  // A scrape must answer promptly while Redis is down (that is when its counters matter most).
  if (!metrics.refreshFromRedis) {
    exposeQueueMetrics(relay, metrics, { timeoutMs: Math.min(redisTimeoutMs, 2000), onError: (e) => logger.warn({ err: redisError(e) }, 'queue gauges not refreshed: Redis did not answer') });
  }

  // Children bound once: no label hashing per request; every series exists (at 0) from the start.
  const received = Object.fromEntries(FORMATS.map((f) => [f, metrics.leadsReceived.labels({ format: f })])) as Record<IntakeFormat, { inc(): void }>;
  const rejected = Object.fromEntries(REJECT_REASONS.map((r) => [r, metrics.leadsRejected.labels({ reason: r })])) as Record<RejectReason, { inc(): void }>;
  for (const f of FORMATS) metrics.leadsReceived.inc({ format: f }, 0);
  for (const r of REJECT_REASONS) metrics.leadsRejected.inc({ reason: r }, 0);

  let closing = false;
  // Lead contents are logged only at debug; checked once, not per request.
  const debugEnabled = logger.isLevelEnabled('debug');

  const app = Fastify({
    // The request serializer redacts `?code=` wherever Fastify logs a request.
    loggerInstance: logger.child({}, { serializers: { req: serializeRequest } }) as FastifyBaseLogger,
    logController: new IntakeLogController(() => logger.isLevelEnabled('info')),
    // A request's child logger is made when it writes a line, not for every request.
    childLoggerFactory: deferredChildLoggerFactory as never,
    bodyLimit: config.intake.maxBodyBytes,
    trustProxy: false,
    // Our own 503 while closing is problem+json (Fastify's built-in one is not).
    return503OnClosing: false,
    // `/v1/leads/` is what people paste; ids are at most 128 characters, longer ones reach frameworkErrors (400).
    routerOptions: { maxParamLength: 256, ignoreTrailingSlash: true },
    clientErrorHandler,
    frameworkErrors: (error, request, reply) => {
      // Fastify has not parsed the query string on this path.
      request.query = Object.fromEntries(new URLSearchParams(request.url.split('?')[1] ?? ''));
      const verdict = verifier.verify(request.headers, request.query);
      if (verdict !== 'ok') return unauthorized(request, reply, verdict);
      const id = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      return sendProblem(reply, problem(id ? PROBLEMS.invalidLeadId : PROBLEMS.badRequest,
        id ? 'A lead id must match ^[A-Za-z0-9._-]{1,128}$.' : 'The URL is not valid.'));
    },
  });
  app.decorateRequest('intakeOutcome', null);
  // A span per request only while tracing is on (startTracing): otherwise no hook at all on the accept path.
  if (tracingEnabled()) registerRequestTracing(app);

  app.removeContentTypeParser(['text/plain', 'application/json']);
  // JSON is read as bytes: decoding them as a string would quietly turn invalid UTF-8 into U+FFFD.
  const json = app.getDefaultJsonParser('error', 'error');
  const utf8Json = (request: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void) => {
    const bad = findInvalidUtf8(body, true);
    if (bad) { done(new BodyNotUtf8Error(bad)); return; }
    json(request, body.toString('utf8'), done);
  };
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, utf8Json);
  app.addContentTypeParser(STRUCTURED_JSON, { parseAs: 'buffer' }, utf8Json);
  // Forms too: a percent-encoded Latin-1 `ë` (`%EB`) would otherwise be decoded into U+FFFD and stored.
  // Parsed as a form body parser would (node's querystring gives the same fields: repeats as arrays, `+` as space).
  app.addContentTypeParser(FORM_MEDIA_TYPE, { parseAs: 'buffer' }, (_request, body: Buffer, done) => {
    const bad = findInvalidUtf8InForm(body);
    if (bad) { done(new BodyNotUtf8Error(bad, 'form')); return; }
    done(null, parseQueryString(body.toString('utf8')));
  });

  const isLeadPost = (request: FastifyRequest) => request.method === 'POST' && request.routeOptions.url === '/v1/leads';
  const outcome = (request: FastifyRequest, o: RequestOutcome) => { request.intakeOutcome = o; };
  const reject = (request: FastifyRequest, reason: RejectReason, extra: RequestOutcome = {}) => {
    if (isLeadPost(request)) rejected[reason].inc();
    outcome(request, { reason, ...extra });
  };
  const unavailable = (request: FastifyRequest, reply: FastifyReply, error: unknown) => {
    if (error !== undefined) request.log.error({ err: redisError(error) }, 'Redis could not answer; replying 503');
    reject(request, 'unavailable');
    reply.header('retry-after', retryAfter);
    return sendProblem(reply, problem(PROBLEMS.unavailable, closing
      ? 'This intake instance is shutting down; retry (another instance will take the lead).'
      : 'Redis could not store or read the lead; nothing was queued. Retry later with the same body.'));
  };
  function unauthorized(request: FastifyRequest, reply: FastifyReply, verdict: ApiKeyVerdict): FastifyReply {
    reject(request, 'unauthorized');
    reply.header('www-authenticate', verdict === 'invalid' ? 'Bearer realm="leadrelay", error="invalid_token"' : 'Bearer realm="leadrelay"');
    return sendProblem(reply, problem(PROBLEMS.unauthorized, verdict === 'invalid'
      ? 'The API key is not one of intake.apiKeys.'
      : 'Send an intake API key as `Authorization: Bearer <key>`, `X-Api-Key: <key>` or `?code=<key>`.'));
  }

  // Runs before the body is read: a 401 never depends on the body, and an unauthenticated body is never parsed.
  const authenticate: onRequestHookHandler = (request, reply, done) => {
    if (closing) {
      reply.header('connection', 'close');
      unavailable(request, reply, undefined);
      return;
    }
    const verdict = verifier.verify(request.headers, request.query);
    if (verdict === 'ok') done();
    else unauthorized(request, reply, verdict);
  };

  // Compressed bodies are not decoded: refuse them before parsing rather than report them as malformed.
  const identityEncodingOnly: preParsingHookHandler = (request, reply, payload, done) => {
    const encoding = request.headers['content-encoding'];
    if (encoding === undefined || encoding.trim().toLowerCase() === 'identity') { done(null, payload); return; }
    reject(request, 'unsupported_media_type');
    sendProblem(reply, problem(PROBLEMS.unsupportedMediaType, 'Content-Encoding is not supported; send the body uncompressed.',
      [{ path: '', message: `Content-Encoding '${encoding}' is not supported` }]));
  };

  app.post('/v1/leads', { onRequest: authenticate, preParsing: identityEncodingOnly, schema: { response: { 200: ACCEPT_REPLY_SCHEMA, 202: ACCEPT_REPLY_SCHEMA } } },
    async (request, reply) => {
      const mediaType = request.mediaType;
      // Only JSON and form parsers exist, so any other type was already refused; this is a body-less POST.
      if (mediaType === undefined) {
        reject(request, 'unsupported_media_type');
        return sendProblem(reply, problem(PROBLEMS.unsupportedMediaType, UNSUPPORTED_DETAIL));
      }
      const ctx = { query: request.query as Record<string, unknown> };
      const parsed = mediaType === FORM_MEDIA_TYPE ? parseForm(request.body, ctx) : parseJsonLead(request.body, ctx);
      if (!parsed.ok) {
        reject(request, 'invalid', { format: parsed.format, invalid: parsed.errors.map((e) => e.path) });
        const n = parsed.errors.length;
        return sendProblem(reply, problem(PROBLEMS.invalidLead,
          `The ${parsed.format} lead has ${n} invalid field${n === 1 ? '' : 's'}; see errors.`, parsed.errors));
      }
      const { lead, warnings } = parsed;
      if (debugEnabled) request.log.debug({ lead, format: parsed.format, warnings }, 'lead parsed');
      let accepted: AcceptResult;
      let durable: DurabilityWait = { ok: true };
      // `intake.durability: none` (the default) has nothing to check or wait for: no timers for it on each request.
      const waits = relay.durability.mode.kind !== 'none';
      try {
        if (waits) await withTimeout(relay.durability.verify(), redisTimeoutMs);
      } catch (e) {
        if (!(e instanceof DurabilityUnsupportedError)) return unavailable(request, reply, e);
        request.log.error({ err: e.message, code: e.code }, 'intake.durability cannot be met; replying 503');
        reply.header('retry-after', retryAfter);
        return sendProblem(reply, problem(PROBLEMS.unavailable, `${e.message}. Nothing was queued.`, [], { code: e.code }));
      }
      try {
        accepted = await withTimeout(relay.accept(lead, { clientId: parsed.clientId, warnings, origin: 'webhook', trace: jobTraceOf(request) }), redisTimeoutMs);
        // A retried post of a stored lead waits too: its 200 then means as much as a 202.
        if (waits) durable = await withTimeout(relay.durability.wait(), redisTimeoutMs + (config.intake.durabilityTimeout ?? 0));
      } catch (e) {
        return unavailable(request, reply, e);
      }
      if (!durable.ok) {
        const what = durable.what === 'replicas' ? `${durable.acknowledged} of ${durable.wanted} replicas acknowledged it` : 'Redis did not confirm it on disk (WAITAOF)';
        request.log.warn({ leadId: accepted.id, code: ErrorCodes.NOT_DURABLE, wanted: durable.wanted, acknowledged: durable.acknowledged }, 'lead stored but not durable as intake.durability asks; replying 503');
        reply.header('retry-after', retryAfter);
        return sendProblem(reply, problem(PROBLEMS.notDurable,
          `The lead ${accepted.id} is stored and will be delivered, but only ${what} within intake.durabilityTimeout. Retrying with the same body is safe (it is not queued twice).`,
          [], { code: ErrorCodes.NOT_DURABLE, leadId: accepted.id, wanted: durable.wanted, acknowledged: durable.acknowledged }));
      }
      // Counted once per lead: a client's retry of an accepted lead is not a new lead.
      if (!accepted.duplicate) received[parsed.format].inc();
      outcome(request, { leadId: accepted.id, format: parsed.format, duplicate: accepted.duplicate, destinations: accepted.destinations.length });
      reply.code(accepted.duplicate ? 200 : 202);
      return accepted;
    });

  app.get<{ Params: { id: string } }>('/v1/leads/:id', { onRequest: authenticate }, async (request, reply) => {
    const { id } = request.params;
    if (!LEAD_ID_PATTERN.test(id)) {
      outcome(request, { reason: 'invalid_id' });
      return sendProblem(reply, problem(PROBLEMS.invalidLeadId, 'A lead id must match ^[A-Za-z0-9._-]{1,128}$.', [{ path: 'id', message: 'must match ^[A-Za-z0-9._-]{1,128}$' }]));
    }
    outcome(request, { leadId: id });
    let status;
    try {
      status = await withTimeout(relay.status(id), redisTimeoutMs);
    } catch (e) {
      return unavailable(request, reply, e);
    }
    if (!status) return sendProblem(reply, problem(PROBLEMS.leadNotFound, `No lead '${id}' was accepted (or its status has expired after leads.retention).`));
    return status;
  });

  registerProbeRoutes(app, { ready: () => withTimeout(relay.ping(), redisTimeoutMs), metrics, closing: () => closing, retryAfterSeconds: Number(retryAfter) });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?', 1)[0]!;
    const allow = ALLOWED_METHODS.find(([re]) => re.test(path))?.[1];
    if (allow) {
      reply.header('allow', allow);
      return sendProblem(reply, problem(PROBLEMS.methodNotAllowed, `${request.method} is not allowed here; use ${allow}.`));
    }
    return sendProblem(reply, problem(PROBLEMS.notFound, 'Intake serves POST /v1/leads, GET /v1/leads/{id}, /healthz, /readyz and /metrics.'));
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { body, reason } = problemForError(error, config.intake.maxBodyBytes);
    if (body.status >= 500) request.log.error({ err: error }, 'unexpected error');
    if (reason) reject(request, reason);
    return sendProblem(reply, body);
  });

  app.addHook('preClose', (done) => { closing = true; done(); });
  if (ownsRelay) app.addHook('onClose', async () => { await relay.close(); });

  return app;
}

const UNSUPPORTED_DETAIL = 'Send application/json (canonical or Microsoft\'s HTTPS-endpoint JSON, also application/*+json) or application/x-www-form-urlencoded (Web-to-Lead fields).';

/** A JSON body with bytes that are not UTF-8; `path` names the value holding the first of them. */
class BodyNotUtf8Error extends Error {
  readonly statusCode = 400;
  readonly code = 'LEADRELAY_BODY_NOT_UTF8';
  readonly offset: number;
  readonly path: string;
  constructor(bad: InvalidUtf8, readonly format: 'json' | 'form' = 'json') {
    super('The body is not valid UTF-8');
    this.offset = bad.offset;
    this.path = bad.path;
  }
}

/** Maps Fastify's and the parsers' errors to problems; a 4xx never becomes a 5xx. */
function problemForError(error: FastifyError, maxBodyBytes: number): { body: ProblemBody; reason?: RejectReason } {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { reason: 'too_large', body: problem(PROBLEMS.payloadTooLarge, `The body is larger than intake.maxBodyBytes (${maxBodyBytes} bytes).`, [{ path: '', message: `must be at most ${maxBodyBytes} bytes` }]) };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { reason: 'unsupported_media_type', body: problem(PROBLEMS.unsupportedMediaType, UNSUPPORTED_DETAIL) };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { reason: 'malformed', body: problem(PROBLEMS.malformedBody, 'The body is empty; send a JSON object.', [{ path: '', message: 'must not be empty' }]) };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { reason: 'malformed', body: problem(PROBLEMS.malformedBody, 'The body is not valid JSON (or uses __proto__/constructor.prototype keys).', [{ path: '', message: 'must be valid JSON' }]) };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { reason: 'malformed', body: problem(PROBLEMS.malformedBody, 'The body length does not match Content-Length.') };
  }
  if (error instanceof BodyNotUtf8Error) {
    return { reason: 'malformed', body: problem(PROBLEMS.malformedBody, `The body is not valid UTF-8 (first invalid byte at offset ${error.offset}); ${error.format === 'form' ? 'send the form fields percent-encoded as UTF-8 (encoding=UTF-8)' : 'send UTF-8 JSON'}.`,
      [{ path: error.path, message: 'is not valid UTF-8' }]) };
  }
  if (error instanceof SyntaxError) {
    return { reason: 'malformed', body: problem(PROBLEMS.malformedBody, 'The body is not valid JSON.', [{ path: '', message: error.message }]) };
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const k = status === 413 || status === 415 ? problemKindForStatus(status) : { ...PROBLEMS.badRequest, status };
    return { reason: status === 413 ? 'too_large' : status === 415 ? 'unsupported_media_type' : 'malformed', body: problem(k, error.message) };
  }
  return { body: problem(PROBLEMS.internal, 'Intake failed unexpectedly; the error is logged. Retry later.') };
}

/**
 * One line when the Redis connection drops and one when it is back, instead of ioredis printing
 * every failed reconnect to stderr (which it does when a client has no 'error' listener).
 */
function logConnectionChanges(relay: Relay, logger: Logger): void {
  let down = false;
  relay.redis.on('error', (e: unknown) => {
    if (down) return;
    down = true;
    logger.error({ err: redisError(e) }, 'Redis connection lost; intake answers 503 until it is back');
  });
  relay.redis.on('ready', () => {
    if (!down) return;
    down = false;
    logger.info('Redis connection restored');
  });
}

/** Only the message: a Redis error object can carry the command and its arguments (lead data). */
function redisError(e: unknown): { message: string; name?: string } {
  if (e instanceof RedisTimeoutError) return { name: e.name, message: e.message };
  return e instanceof Error ? { name: e.name, message: e.message } : { message: String(e) };
}
