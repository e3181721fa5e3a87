import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace, type Attributes, type Span } from '@opentelemetry/api';
import { TraceAttributes as A } from '@leadrelay/observability';
import type { JobTrace } from '@leadrelay/queue';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's span, while tracing is on (registerRequestTracing); never set otherwise. */
    intakeSpan?: Span | null;
  }
}

/** Probes and scrapes (every few seconds, from the platform): no span. */
const UNTRACED_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * One SERVER span per request (`POST /v1/leads`, `GET /v1/leads/:id`; not the probes), child of the caller's `traceparent` when it
 * sends one. Registered only while tracing is on: otherwise intake has no hook and no span call at all.
 * Attributes are the method, route, status and what the request did (lead id, format, duplicate, destination
 * count, reject reason), set from the same outcome as its log line: never a value from the lead.
 */
export function registerRequestTracing(app: FastifyInstance): void {
  const tracer = trace.getTracer('@leadrelay/intake');
  app.decorateRequest('intakeSpan', null);
  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    if (route && UNTRACED_ROUTES.has(route)) { done(); return; }
    const attributes: Attributes = { [A.httpMethod]: request.method };
    if (route) attributes[A.httpRoute] = route;
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    request.intakeSpan = tracer.startSpan(route ? `${request.method} ${route}` : request.method, { kind: SpanKind.SERVER, attributes }, parent);
    done();
  });
  const end = (request: FastifyRequest, status?: number) => {
    const span = request.intakeSpan;
    if (!span) return;
    request.intakeSpan = null;
    const o = request.intakeOutcome;
    if (status !== undefined) span.setAttribute(A.httpStatus, status);
    if (o?.leadId) span.setAttribute(A.leadId, o.leadId);
    if (o?.format) span.setAttribute(A.leadFormat, o.format);
    if (o?.duplicate !== undefined) span.setAttribute(A.leadDuplicate, o.duplicate);
    if (o?.destinations !== undefined) span.setAttribute(A.leadDestinations, o.destinations);
    if (o?.reason) span.setAttribute(A.rejectReason, o.reason);
    if (status === undefined || status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, ...(status === undefined ? { message: 'aborted by the client' } : {}) });
    span.end();
  };
  app.addHook('onResponse', (request, reply, done) => { end(request, reply.statusCode); done(); });
  app.addHook('onRequestAbort', (request, done) => { end(request); done(); });
}

/** The request span's W3C trace context, for the jobs it queues; undefined while tracing is off. */
export function jobTraceOf(request: FastifyRequest): JobTrace | undefined {
  const span = request.intakeSpan;
  if (!span) return undefined;
  const carrier: JobTrace = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier.traceparent ? carrier : undefined;
}
