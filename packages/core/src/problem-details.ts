import type { FieldProblem } from './intake-formats.js';

/**
 * Every HTTP error of intake and ops is `application/problem+json` (RFC 9457), from this one catalogue;
 * `type` URIs are documented in apps/intake/README.md.
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

export const PROBLEM_BASE = 'https://leadrelay.dev/problems/';

export interface ProblemKind {
  type: string;
  title: string;
  status: number;
}

const kind = (slug: string, title: string, status: number): ProblemKind => ({ type: PROBLEM_BASE + slug, title, status });

/** The problem types LeadRelay's HTTP servers answer with. */
export const PROBLEMS = {
  invalidLead: kind('invalid-lead', 'The lead is not valid', 400),
  malformedBody: kind('malformed-body', 'The request body cannot be parsed', 400),
  invalidLeadId: kind('invalid-lead-id', 'The lead id is not valid', 400),
  badRequest: kind('bad-request', 'Bad request', 400),
  unauthorized: kind('unauthorized', 'Missing or invalid API key', 401),
  notFound: kind('not-found', 'No such resource', 404),
  leadNotFound: kind('lead-not-found', 'No such lead', 404),
  methodNotAllowed: kind('method-not-allowed', 'Method not allowed', 405),
  payloadTooLarge: kind('payload-too-large', 'The request body is too large', 413),
  unsupportedMediaType: kind('unsupported-media-type', 'Unsupported content type', 415),
  authenticationRequired: kind('authentication-required', 'Authentication required', 401),
  crossSiteRefused: kind('cross-site-refused', 'Cross-site request refused', 403),
  unknownDestination: kind('unknown-destination', 'Unknown destination', 404),
  internal: kind('internal-error', 'Internal error', 500),
  unavailable: kind('unavailable', 'Lead storage is unavailable', 503),
  notDurable: kind('not-durable', 'The lead is stored but not yet as durable as configured', 503),
} as const satisfies Record<string, ProblemKind>;

/**
 * The catalogue's kind for an HTTP error status a framework raised (body limits, content types, routes):
 * other 4xx are `bad-request` with that status, anything else `internal-error`.
 */
export function problemKindForStatus(status: number): ProblemKind {
  const known = [PROBLEMS.badRequest, PROBLEMS.notFound, PROBLEMS.methodNotAllowed, PROBLEMS.payloadTooLarge, PROBLEMS.unsupportedMediaType]
    .find((k) => k.status === status);
  if (known) return known;
  return status >= 400 && status < 500 ? { ...PROBLEMS.badRequest, status } : PROBLEMS.internal;
}

/** RFC 9457 body; `errors` is always present (empty when no single field is to blame) so clients need one shape. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors: FieldProblem[];
  [extension: string]: unknown;
}

export function problem(k: ProblemKind, detail: string, errors: FieldProblem[] = [], extensions: Record<string, unknown> = {}): ProblemBody {
  return { type: k.type, title: k.title, status: k.status, detail, errors, ...extensions };
}

/** What sendProblem needs of a reply (Fastify's, structurally): core stays free of the web framework. */
export interface ProblemReply {
  code(status: number): ProblemReply;
  type(contentType: string): ProblemReply;
  // any: Fastify types send's argument per route schema; a problem body fits every route.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  send(body: any): unknown;
}

/** Sends a problem; returns the reply so async handlers and hooks can `return sendProblem(...)`. */
export function sendProblem<R extends ProblemReply>(reply: R, body: ProblemBody): R {
  reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
  return reply;
}
