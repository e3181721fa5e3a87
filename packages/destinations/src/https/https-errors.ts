import { InvalidAuthenticationError, InvalidConfigurationError, PayloadValidationError, type DeliveryError } from '@leadrelay/core';
import { classifyHttpFailure } from '../shared/index.js';

/** A webhook answer that was not a 2xx, with its body excerpt already redacted. */
export interface HttpsFailure {
  status: number;
  headers: Record<string, unknown>;
  excerpt: string;
}

/** Who answered, for messages and remediations. */
export interface HttpsFailureContext {
  /** `Webhook <origin>`: the path and query may hold a key, so only the origin is named. */
  what: string;
  destinationId: string;
  url: string;
  format: string;
}

/** A URL without credentials or query string, for messages. */
export function safeUrl(url: string, base: string): string | undefined {
  try {
    const u = new URL(url, base);
    return `${u.origin}${u.pathname}`;
  } catch {
    return undefined;
  }
}

/**
 * Webhook outcomes: 3xx and 410 are configuration (the URL is wrong for every lead; redirects are
 * never followed); 401 authentication; 403 configuration; the rest as any HTTP API (429 and 503 with
 * Retry-After throttle, 408/5xx transient, other 4xx permanent for this lead).
 */
export function classifyHttpsFailure(f: HttpsFailure, ctx: HttpsFailureContext): DeliveryError {
  const { status, headers, excerpt: text } = f;
  const id = ctx.destinationId;
  const detail = `${ctx.what} answered HTTP ${status}${text ? `: ${text}` : ''}`;
  const common = { status, destinationCode: String(status) };
  if (status >= 300 && status < 400) {
    const location = typeof headers.location === 'string' ? safeUrl(headers.location, ctx.url) : undefined;
    return new InvalidConfigurationError(`${ctx.what} answered HTTP ${status} (redirect${location ? ` to ${location}` : ''}); LeadRelay does not follow redirects`, {
      ...common,
      remediation: `Update url in leadrelay.yaml to the final address${location ? ` (the receiver redirects to ${location})` : ''}; a signed lead is never re-sent to another address silently. Then \`leadrelay resume ${id}\`.`,
    });
  }
  if (status === 410) {
    return new InvalidConfigurationError(`${detail} (the receiver says this endpoint is gone)`, {
      ...common,
      remediation: `The receiver has disabled this endpoint: update url (e.g. the flow's new HTTP POST URL) or disable the destination, then \`leadrelay resume ${id}\`.`,
    });
  }
  if (status === 401) {
    return new InvalidAuthenticationError(detail, {
      ...common,
      remediation: `The receiver refused our credentials: check the key in url (e.g. ?code= or sig=), the headers (Authorization, API key) and signingSecrets configured for ${id}, then \`leadrelay resume ${id}\`.`,
    });
  }
  if (status === 403) {
    return new InvalidConfigurationError(detail, {
      ...common,
      remediation: `The receiver refused access: check that the key in url or headers of ${id} is allowed to post leads (and any IP allow-list), then \`leadrelay resume ${id}\`.`,
    });
  }
  const err = classifyHttpFailure({ status, message: text, retryAfter: headers['retry-after'] as string | undefined }, ctx.what);
  if (err instanceof PayloadValidationError) {
    return new PayloadValidationError(err.message, {
      ...common,
      remediation: `The receiver rejected this lead: check what it expects (format: ${ctx.format}, fields:) against its error, fix the receiver or the mapping, then \`leadrelay dlq replay --id <leadId>\`.`,
    });
  }
  return err;
}
