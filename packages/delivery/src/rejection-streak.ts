import type { ResolvedDestination } from '@leadrelay/config';
import type { SerializedDeliveryError } from '@leadrelay/core';
import { getDestinationType } from '@leadrelay/destinations';

/**
 * Statuses that speak about the endpoint, not the lead: when several different leads in a row get
 * the same one, the address or the receiver's setup is wrong and every further lead would fail too.
 * 400, 409 and 422 stay per-lead rejections (a field a lead lacks, a duplicate).
 */
export const ENDPOINT_STATUSES = new Set([404, 405, 406, 410, 411, 413, 414, 415]);

/** Different leads rejected with the same endpoint status, in a row, that pause the destination. */
export const REJECTION_STREAK = 3;

/** Error code of a destination paused because every lead got the same endpoint status. */
export const ENDPOINT_REJECTS_CODE = 'LR_ENDPOINT_REJECTS';

const MEANING: Record<number, string> = {
  404: 'the receiver has no endpoint at this path (a typo in url, or a flow, function or route that was deleted or renamed)',
  405: 'the endpoint does not accept POST (url points at a page or another route)',
  406: 'the endpoint will not answer in a format LeadRelay accepts',
  410: 'the receiver says this endpoint is gone (disabled or replaced)',
  411: 'the endpoint (or a proxy in front of it) demands a Content-Length',
  413: "every lead's body is over the receiver's size limit (raise the limit, or send fewer fields)",
  414: 'the URL is longer than the receiver accepts',
  415: "the endpoint does not accept JSON (check the receiver's expected content type, or this destination's format)",
};

/** The addresses a destination calls, without query string or credentials (those can carry keys). */
export function endpointOf(d: ResolvedDestination): string {
  try {
    const urls = getDestinationType(d.type)?.outboundUrls?.(d as never) ?? [];
    const shown = urls.map(({ url }) => {
      try {
        const u = new URL(url);
        return `${u.origin}${u.pathname}`;
      } catch {
        return undefined;
      }
    }).filter((u): u is string => !!u);
    return shown.length > 0 ? shown.join(', ') : d.type;
  } catch {
    return d.type;
  }
}

/** The configuration failure a rejection streak becomes: why it paused, what to fix, with the endpoint's full path. */
export function streakFailure(d: ResolvedDestination, last: SerializedDeliveryError, leads: number): SerializedDeliveryError {
  const status = last.status!;
  const where = endpointOf(d);
  return {
    kind: 'configuration',
    code: ENDPOINT_REJECTS_CODE,
    status,
    destinationCode: String(status),
    message: `${leads} different leads in a row were refused with HTTP ${status} by ${where}: ${MEANING[status] ?? 'the endpoint refuses every lead'}. Last answer: ${last.message}`,
    remediation: `Fix the address (url and its path: ${where}) in leadrelay.yaml or the receiver itself, then \`leadrelay resume ${d.id}\` `
      + '(a changed destination config resumes by itself when the worker restarts). Those leads were queued again and wait, with every new lead, until then: nothing is lost.',
  };
}

/**
 * What to do about a delivery that died after every retry (or throttling longer than allowed): the
 * retry advice it had while retrying ("none needed") is no longer true.
 */
export function deadAfterRetriesRemediation(d: ResolvedDestination, last: SerializedDeliveryError, attempts: number): string {
  const why = last.kind === 'throttled'
    ? `the destination kept throttling longer than retry.maxThrottleWait (${Math.round(d.retry.maxThrottleWait / 60_000)} min)`
    : `it failed every one of ${attempts} attempts`;
  return `Dead: ${why}. Check that ${endpointOf(d)} is up and accepts leads from the worker (status page, firewall, TLS, the last error), `
    + `then replay: \`leadrelay dlq replay --destination ${d.id} --code ${last.destinationCode ?? last.code}\` (or \`--id <leadId>\` for one lead).`;
}
