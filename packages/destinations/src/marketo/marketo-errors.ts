import {
  InvalidAuthenticationError, InvalidConfigurationError, PayloadValidationError, RetryableError, ThrottledError,
  type DeliveryError,
} from '@leadrelay/core';
import { classifyHttpFailure, networkFailure } from '../shared/index.js';
import { quotaResetDelayMs } from './marketo-quota-reset.js';
import { describeErrors, type MarketoError } from './marketo-wire.js';

/** 606: more than 100 calls in a rolling 20 s; the window frees at most 20 s later. */
export const RATE_LIMIT_WAIT_MS = 20_000;
/** 615: 10 calls already running; they finish within seconds (sync has a 90 s server timeout, most are far faster). */
export const CONCURRENCY_WAIT_MS = 5_000;

/**
 * A failed Marketo call, as the client sees it:
 * - `response`: HTTP 200 with `success:false` and `errors[]` (the whole call failed; 601/602 reach here only
 *   after the one token renewal);
 * - `record`: one record's `status: skipped` with `reasons[]` (only that lead fails);
 * - `http`: a status other than 200 (Marketo itself only answers 413/414; the rest came from in front of it);
 * - `network`: no answer (reset, refused, DNS, timeout), with the error's code and a message free of secrets.
 */
export type MarketoFailure =
  | { kind: 'response'; errors: MarketoError[] | undefined; requestId?: string }
  | { kind: 'record'; reasons: { code: string; message: string }[] | undefined; status: string | undefined; requestId?: string }
  | { kind: 'http'; status: number; body: string; retryAfter?: unknown }
  | { kind: 'network'; code: string | undefined; message: string };

/**
 * Marketo's failures, classified (README: Destinations → Marketo, Outcomes): 606/615 throttle, 607 waits for the
 * daily quota reset, 601/602/603 and an unknown program or form are configuration, 6xx/7xx transient codes and
 * network errors retry, 609/612/613 and record-level 1xxx reasons are permanent for that lead with a remediation,
 * and an unknown code retries (a lead is never lost to a guess).
 */
export function classifyMarketoFailure(f: MarketoFailure, ctx: MarketoErrorContext): DeliveryError {
  switch (f.kind) {
    case 'response': return classifyResponseError(f.errors, f.requestId, ctx);
    case 'record': return classifyRecordFailure(f.reasons, f.status, f.requestId, ctx);
    case 'http': return classifyMarketoHttpFailure(f.status, f.body, f.retryAfter, ctx);
    case 'network': return networkFailure('Marketo', f.code, f.message);
  }
}

/** What classification needs to know about the destination, for messages and remediations. */
export interface MarketoErrorContext {
  destinationId: string;
  operation: 'sync' | 'push' | 'form';
  lookupField: string;
  programName?: string;
  formId?: number;
  /** Clock for 607 (daily quota) waits. */
  now: () => number;
}

const RESUME = (ctx: MarketoErrorContext) => `then \`leadrelay resume ${ctx.destinationId}\``;
const REPLAY = 'then `leadrelay dlq replay --id <leadId>`';

/**
 * Response-level codes (`success:false`) that retry with backoff. Not 613 ("Invalid Multipart Request":
 * the multipart content of the POST was malformed): the same request fails the same way every time.
 */
const TRANSIENT = new Set(['502', '604', '608', '611', '614', '713', '719']);
/** Response-level codes that say this request can never succeed as sent. */
const BAD_REQUEST = new Set(['605', '609', '610', '612', '613', '701', '702', '703', '704', '709']);

function withRequestId(text: string, requestId: string | undefined): string {
  return requestId ? `${text} (requestId ${requestId})` : text;
}

/**
 * A whole-call failure: HTTP 200 with `success:false`. 601/602 are handled by the caller
 * (renew and retry once); when they reach this function the retry already failed.
 */
function classifyResponseError(errors: MarketoError[] | undefined, requestId: string | undefined, ctx: MarketoErrorContext): DeliveryError {
  const first = errors?.[0];
  const code = first?.code ?? '';
  const message = withRequestId(`Marketo refused the call: ${describeErrors(errors)}`, requestId);
  const common = { destinationCode: code || undefined };

  switch (code) {
    case '601':
      return new InvalidAuthenticationError(message, {
        ...common,
        remediation: 'Marketo rejected an access token its own Identity service had just issued: identityUrl and restUrl must belong to the same Marketo instance '
          + `(Admin > Integration > Web Services > REST API shows both); fix them, ${RESUME(ctx)}.`,
      });
    case '602':
      return new InvalidAuthenticationError(message, {
        ...common,
        remediation: 'Marketo reported a freshly issued access token as expired: check that identityUrl and restUrl belong to the same Marketo instance '
          + `and that the worker's clock is right, ${RESUME(ctx)}.`,
      });
    case '603':
      return new InvalidConfigurationError(message, {
        ...common,
        remediation: 'Marketo authenticated the LeadRelay custom service but denied access: give its API-only user a role with the "Read-Write Lead" '
          + '(and "Read-Only Lead") API permissions, and if "Allowlist for IP-Based API Access" is enabled (Admin > Web Services), add the worker\'s '
          + `outbound IP address; ${RESUME(ctx)}.`,
      });
    case '606':
      return new ThrottledError(message, RATE_LIMIT_WAIT_MS, {
        ...common,
        remediation: 'None needed: delivery resumes when Marketo\'s 20-second window frees up. Marketo allows 100 calls per 20 s for the whole instance, '
          + 'shared with every other integration: if this recurs, lower this destination\'s rateLimit.',
      });
    case '615':
      return new ThrottledError(message, CONCURRENCY_WAIT_MS, {
        ...common,
        remediation: 'None needed: delivery resumes in a few seconds. Marketo runs at most 10 calls at once for the whole instance, shared with other '
          + 'integrations: if this recurs, lower this destination\'s concurrency.',
      });
    case '607':
      return new ThrottledError(message, quotaResetDelayMs(ctx.now()), {
        ...common,
        quotaReset: true,
        remediation: 'None needed: delivery resumes after Marketo\'s daily quota resets at midnight US Central time. To avoid it, ask Adobe to raise the '
          + 'daily API quota (Admin > Web Services shows it) or reduce other integrations\' calls.',
      });
    default:
      break;
  }
  if (code === '1013' && (ctx.operation === 'push' || ctx.operation === 'form')) {
    // Push to an unknown program / submit to an unknown form: every lead would fail the same way, so pause.
    const what = ctx.operation === 'push' ? `programName '${ctx.programName ?? ''}'` : `formId ${ctx.formId ?? ''}`;
    return new InvalidConfigurationError(message, {
      ...common,
      remediation: `Marketo did not find ${what}: fix it in leadrelay.yaml (or create it in Marketo, in a workspace the API user can access), ${RESUME(ctx)}.`,
    });
  }
  if (TRANSIENT.has(code)) return new RetryableError(message, common);
  if (code === '613' || code === '612' || code === '609') {
    // LeadRelay sends every lead call as application/json; Marketo reading it as malformed or multipart means
    // something between rewrote the body or its Content-Type.
    return new PayloadValidationError(message, {
      ...common,
      remediation: `Marketo could not read the request body (${code}): LeadRelay sends JSON with Content-Type application/json, so check that no proxy `
        + `or gateway in front of restUrl rewrites the body or its Content-Type (network.proxy, HTTPS_PROXY), ${REPLAY}.`,
    });
  }
  if (BAD_REQUEST.has(code) || /^1\d{3}$/.test(code)) {
    return new PayloadValidationError(message, {
      ...common,
      remediation: `Marketo rejected the request itself (${code}): check the destination's \`fields:\` mapping and values against Marketo's lead fields `
        + `(GET /rest/v1/leads/describe.json, or \`leadrelay check ${ctx.destinationId}\`), ${REPLAY}.`,
    });
  }
  // An unknown code: never lose a lead to a guess, retry with backoff.
  return new RetryableError(message, common);
}

const RECORD_REMEDIATION: Record<string, (ctx: MarketoErrorContext) => string> = {
  '1001': () => `A value does not match the type of its Marketo field: fix the value or the \`fields:\` mapping, ${REPLAY}.`,
  '1002': (ctx) => `A value Marketo requires is missing${ctx.operation === 'form' ? ' (the form needs an email)' : ''}: map it with \`fields:\`, ${REPLAY}.`,
  '1003': () => `Marketo found the record's data invalid (e.g. a malformed email): correct the lead's values or the \`fields:\` mapping, ${REPLAY}.`,
  '1006': (ctx) => (ctx.operation === 'form'
    ? `A field sent is not on Marketo form ${ctx.formId ?? ''}: add it to the form, or remove it from \`fields:\`, ${REPLAY}.`
    : `A field sent does not exist in Marketo: create it (Admin > Field Management) or fix its API name in \`fields:\`, ${REPLAY}.`),
  '1007': (ctx) => `Several Marketo leads share this ${ctx.lookupField}: merge the duplicates in Marketo (or use a unique lookupField), ${REPLAY}.`,
  '1008': () => `The API-only user cannot access the lead partition holding this person: give its role access to that workspace/partition, ${REPLAY}.`,
  '1009': () => `Marketo needs a partition for this lead: check the lead partitions and the API user's workspace, ${REPLAY}.`,
  '1010': () => `This person already exists in another lead partition: move or merge the record in Marketo, ${REPLAY}.`,
  '1011': (ctx) => `'${ctx.lookupField}' cannot be used as lookupField: choose a supported field (email is the usual one) in leadrelay.yaml, ${REPLAY}.`,
};

/** One record's failure (`status: skipped` with `reasons`): only that lead fails. */
function classifyRecordFailure(reasons: { code: string; message: string }[] | undefined, status: string | undefined,
  requestId: string | undefined, ctx: MarketoErrorContext): DeliveryError {
  const first = reasons?.[0];
  if (!first) {
    return new PayloadValidationError(withRequestId(`Marketo reported status '${status ?? 'none'}' for the lead without a reason`, requestId));
  }
  const code = first.code;
  const message = withRequestId(`Marketo skipped the lead: ${describeErrors(reasons)}`, requestId);
  if (/^1\d{3}$/.test(code)) {
    const remediation = RECORD_REMEDIATION[code]?.(ctx)
      ?? `Marketo rejected this lead (${code} ${first.message}): correct the lead's values or the \`fields:\` mapping, ${REPLAY}.`;
    return new PayloadValidationError(message, { destinationCode: code, remediation });
  }
  // A record carrying a call-level code (e.g. 611 inside a push result): read it like one.
  return classifyResponseError(reasons, requestId, ctx);
}

/** Marketo itself only answers 413/414 at HTTP level; anything else came from in front of it. */
function classifyMarketoHttpFailure(status: number, bodyText: string, retryAfter: unknown, ctx: MarketoErrorContext): DeliveryError {
  if (status === 413) {
    return new PayloadValidationError('Marketo answered HTTP 413: the request body is over its 1 MB limit', {
      status, destinationCode: '413',
      remediation: `Lower this destination's batchSize or shorten long \`fields:\` values, ${REPLAY}.`,
    });
  }
  if (status === 414) {
    return new PayloadValidationError('Marketo answered HTTP 414: the request URI is over its 8 KB limit', {
      status, destinationCode: '414', remediation: `Shorten restUrl, ${REPLAY}.`,
    });
  }
  if (status === 404) {
    return new InvalidConfigurationError('Marketo answered HTTP 404: no REST API at restUrl', {
      status, destinationCode: '404',
      remediation: `Set restUrl to the REST API endpoint without its /rest suffix, e.g. https://123-ABC-456.mktorest.com (Admin > Web Services), ${RESUME(ctx)}.`,
    });
  }
  return classifyHttpFailure({ status, message: bodyText, retryAfter: retryAfter as string | undefined }, 'Marketo');
}
