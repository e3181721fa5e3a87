import type { FastifyReply } from 'fastify';
import type { FieldProblem } from '@leadrelay/core';

/** Every intake error is `application/problem+json` (RFC 9457); `type` URIs are documented in apps/intake/README.md. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

export const PROBLEM_BASE = 'https://leadrelay.dev/problems/';

export interface ProblemKind {
  type: string;
  title: string;
  status: number;
}

const kind = (slug: string, title: string, status: number): ProblemKind => ({ type: PROBLEM_BASE + slug, title, status });

/** The problem types intake answers with. */
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
  internal: kind('internal-error', 'Internal error', 500),
  unavailable: kind('unavailable', 'Lead storage is unavailable', 503),
  notDurable: kind('not-durable', 'The lead is stored but not yet as durable as configured', 503),
} as const satisfies Record<string, ProblemKind>;

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

/** Sends a problem; returns the reply so async handlers and hooks can `return sendProblem(...)`. */
export function sendProblem(reply: FastifyReply, body: ProblemBody): FastifyReply {
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}
