import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

/** What a request did, for its log line: set by the handlers, never customer data. */
export interface RequestOutcome {
  leadId?: string;
  format?: string;
  duplicate?: boolean;
  destinations?: number;
  /** `leadrelay_leads_rejected_total` reason, when the request was refused. */
  reason?: string;
  /** Paths of invalid fields (never their values). */
  invalid?: string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by intake's handlers for the request's log line. */
    intakeOutcome: RequestOutcome | null;
  }
}

/** Routes whose successful requests are logged at debug: probes and scrapes would drown everything else. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** Query parameters whose names are safe to log; only `offer`'s value is. */
const KNOWN_PARAMS = new Set(['offer', 'code']);

/**
 * The request URL as logged: the path, and for the query string only known parameter names and the
 * `offer` value. `?code=` carries the API key (Microsoft's HTTPS destination can only put it there),
 * and an unknown parameter might be a key sent the wrong way, so neither value is ever logged.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const name = safeDecode(eq < 0 ? pair : pair.slice(0, eq)).toLowerCase();
    if (!KNOWN_PARAMS.has(name)) return '[redacted]';
    return name === 'offer' ? pair : `${name}=[redacted]`;
  });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** pino `req` serializer with the redacted URL, replacing Fastify's (which logs the raw URL). */
export function serializeRequest(req: FastifyRequest): Record<string, unknown> {
  return { method: req.method, url: redactUrl(req.url), remoteAddress: req.ip };
}

/**
 * Exactly one log line per request (Fastify's default is two, with the raw URL): method, redacted
 * URL, status, duration and what happened to the lead, at info; at error when the response failed.
 */
export class IntakeLogController extends LogController {
  /** @param infoEnabled whether the logger writes info lines (default: always build the line). */
  constructor(private readonly infoEnabled: () => boolean = () => true) {
    super();
  }

  override incomingRequest(): void {
    // The completion line says everything; a second line per request halves log throughput.
  }

  override routeNotFound(): void {
    // Fastify's message carries the raw URL (and so a `?code=` key); the completion line covers 404s.
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const status = reply.statusCode;
    // Nothing to build when the line would not be written (`LOG_LEVEL` warn or above).
    if (!error && !this.infoEnabled()) return;
    const line = {
      method: request.method, url: redactUrl(request.url), status, ms: Math.round(reply.elapsedTime * 10) / 10,
      remoteAddress: request.ip, ...request.intakeOutcome,
    };
    if (error) request.log.error({ ...line, err: error }, 'response failed');
    else if (status < 400 && QUIET_ROUTES.has(request.routeOptions.url ?? '')) request.log.debug(line, 'request completed');
    else request.log.info(line, 'request completed');
  }
}
