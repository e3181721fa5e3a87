import {
  InvalidAuthenticationError, InvalidConfigurationError, PayloadValidationError, RetryableError, ThrottledError,
  parseRetryAfter, type DeliveryError,
} from '@leadrelay/core';
import { DEFAULT_THROTTLE_MS, classifyHttpFailure, networkFailure } from '../shared/destination-errors.js';

/** Dataverse service-protection error codes (Dataverse Web API: service protection API limits): requests, execution time, concurrency. */
export const SERVICE_PROTECTION_CODES: Readonly<Record<string, string>> = {
  '0x80072322': 'number of requests',
  '0x80072321': 'combined execution time',
  '0x80072326': 'concurrent requests',
};

/** Dataverse error codes (web service error codes) whose fix is a security role. */
const PRIVILEGE_DENIED = '0x80040220';
const ATTRIBUTE_PRIVILEGE_CREATE_MISSING = '0x8004f502';
const NO_ROLES_ASSIGNED = '0x80042f09';

/** Microsoft's steps to give the connecting identity the role its marketplace lead writer uses (Microsoft's Dynamics 365 lead-management instructions; README: Destinations → Dynamics 365). */
export const LEAD_WRITER_ROLE_STEPS = 'Import Microsoft\'s "Microsoft Marketplace Lead Writer" managed solution into the environment if it is not there, '
  + 'then assign its security role "Microsoft Marketplace Lead Writer" to the identity LeadRelay signs in as '
  + '(Power Platform admin center > Environments > the environment > Settings > Users + permissions > Application users for an app, Users for a user). '
  + 'Give that role also Create/Read/Write at User level on "User Entity UI Settings" (Core Records tab) and Read/Write/Append To at Organization level on "System Job" (Customization tab). '
  + 'Then `leadrelay resume <destination>`.';

/** A Dataverse Web API answer that was not a success, as read from the wire. */
export interface DataverseReply {
  status: number;
  headers: Record<string, unknown>;
  /** Raw response text. */
  body: string;
}

/** Who is signing in, for remediations (setting names, no secrets). */
export interface DataverseFailureContext {
  instanceUrl: string;
  mode: 'client-secret' | 'password';
  clientId: string;
  username?: string;
  /** The request that failed, e.g. `PATCH leads(…)`. */
  operation: string;
}

export interface ODataError {
  code?: string;
  message?: string;
}

/** `{"error":{"code":"0x…","message":"…"}}`, or undefined when the body is not Dataverse's error JSON. */
export function parseODataError(body: string): ODataError | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: ODataError };
    if (parsed && typeof parsed === 'object' && parsed.error && typeof parsed.error === 'object') return parsed.error;
  } catch {
    // not JSON
  }
  return undefined;
}

function headerText(headers: Record<string, unknown>, name: string): string | undefined {
  const v = headers[name] ?? headers[name.toLowerCase()];
  if (v === undefined || v === null) return undefined;
  return Array.isArray(v) ? String(v[0]) : String(v);
}

/** True when the answer looks like a web page rather than the Web API (wrong instanceUrl, portal, proxy). */
export function looksLikeHtml(reply: Pick<DataverseReply, 'headers' | 'body'>): boolean {
  const type = headerText(reply.headers, 'content-type') ?? '';
  return /text\/html/i.test(type) || /^\s*<(!doctype|html)/i.test(reply.body);
}

function identity(ctx: DataverseFailureContext): string {
  return ctx.mode === 'password' ? `the user auth.username (${ctx.username ?? ''})` : `the application user of auth.clientId (${ctx.clientId})`;
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function notDataverseRemediation(ctx: DataverseFailureContext, what: string): string {
  return `${ctx.instanceUrl} ${what}, so it is not a Dynamics 365 / Dataverse environment. Fix instanceUrl: it must be the environment URL `
    + '(e.g. https://contoso.crm4.dynamics.com, shown in the Power Platform admin center under Environments > the environment > Environment URL) '
    + 'without /api/data or a path; then `leadrelay resume <destination>`.';
}

/**
 * Classifies a failed Dataverse Web API call (README: How delivery behaves; Dataverse Web API errors and service protection limits): 429 and service-protection codes
 * throttle by Retry-After; privilege errors (PrivilegeDenied, AttributePrivilegeCreateIsMissing on leadsourcecode,
 * "no roles are assigned to user") are configuration with the Lead Writer role steps; 404/405/3xx or an HTML page
 * mean instanceUrl is not Dataverse; 400 is the lead's payload (permanent, Dataverse's message); 5xx transient.
 * A 401 here is after the one token refresh already tried.
 */
export function classifyDynamicsFailure(reply: DataverseReply, ctx: DataverseFailureContext): DeliveryError {
  const odata = parseODataError(reply.body);
  const code = odata?.code?.toLowerCase();
  const dvMessage = (odata?.message ?? '').trim();
  const status = reply.status;
  const destinationCode = odata?.code ?? String(status);
  const message = `Dataverse ${ctx.operation} at ${ctx.instanceUrl} answered HTTP ${status}${odata?.code ? ` ${odata.code}` : ''}${dvMessage ? `: ${dvMessage}` : ''}`;
  const common = { status, destinationCode };

  const protection = code ? SERVICE_PROTECTION_CODES[code] : undefined;
  const retryAfterMs = parseRetryAfter(headerText(reply.headers, 'retry-after'));
  // 429, service protection, and 503 with Retry-After all mean "wait as told" (README: How delivery behaves, Throttling).
  if (status === 429 || protection || (status === 503 && retryAfterMs !== undefined)) {
    const wait = retryAfterMs ?? DEFAULT_THROTTLE_MS;
    return new ThrottledError(`${message}${protection ? ` (service protection limit: ${protection})` : ''}`, wait, {
      ...common,
      remediation: 'None needed: delivery resumes after Dataverse\'s Retry-After. If it happens often, lower this destination\'s concurrency or rateLimit: '
        + 'Dataverse allows 6,000 requests, 1,200 s of execution time and 52 concurrent requests per user per 5 minutes.',
    });
  }

  if (status === 401) {
    return new InvalidAuthenticationError(`${message} (also after one token refresh)`, {
      ...common,
      remediation: `Dataverse refused a freshly issued token for ${identity(ctx)}. `
        + (ctx.mode === 'password'
          ? 'Make sure that user is enabled in this environment and holds a Dynamics 365 license, '
          : `Make sure an Application User with Application ID ${ctx.clientId} exists in this environment (Power Platform admin center > Environments > the environment > Settings > Users + permissions > Application users), `)
        + 'and that instanceUrl belongs to the tenant in auth.tenantId; then `leadrelay resume <destination>`.',
    });
  }

  if (status === 403) {
    const text = dvMessage.toLowerCase();
    if (/not a member of the organization/.test(text)) {
      return new InvalidConfigurationError(message, {
        ...common,
        remediation: ctx.mode === 'password'
          ? `Entra ID signed ${identity(ctx)} in, but the user is not a user of this environment: add the user to the environment `
            + '(Power Platform admin center > Environments > the environment > Settings > Users + permissions > Users > Add user), '
            + 'give it a Dynamics 365 license and a security role that creates leads, then `leadrelay resume <destination>`.'
          : `Entra ID issued a token for application ${ctx.clientId}, but this environment has no active application user for it. `
            + 'Add one: Power Platform admin center > Manage > Environments > the environment > Settings > Users + permissions > Application users > '
            + `+ New app user > + Add an app (Application ID ${ctx.clientId}) > business unit > Security roles: one with Create on Lead `
            + '(e.g. Microsoft Marketplace Lead Writer) > Create, and make sure the app user is active. Then `leadrelay resume <destination>`.',
      });
    }
    if (code === ATTRIBUTE_PRIVILEGE_CREATE_MISSING || /leadsourcecode/.test(text) || /create permissions/.test(text)) {
      return new InvalidConfigurationError(message, {
        ...common,
        remediation: `${capitalized(identity(ctx))} may not set a secured column on lead (Microsoft: "User does not have create permissions for the leadsourcecode attribute in the lead entity"). `
          + `Assign the Microsoft Marketplace Lead Writer role. ${LEAD_WRITER_ROLE_STEPS}`,
      });
    }
    if (code === NO_ROLES_ASSIGNED || /no roles are assigned/.test(text)) {
      return new InvalidConfigurationError(message, {
        ...common,
        remediation: `${capitalized(identity(ctx))} has no security role in this environment ("SecLib::RetrievePrivilegeForUser failed - no roles are assigned to user"). `
          + `Assign the Microsoft Marketplace Lead Writer role. ${LEAD_WRITER_ROLE_STEPS}`,
      });
    }
    if (code === PRIVILEGE_DENIED || /privilege/.test(text)) {
      return new InvalidConfigurationError(message, {
        ...common,
        remediation: `${capitalized(identity(ctx))} lacks a privilege to create or update leads (e.g. prvCreateLead / prvWriteLead). Assign the Microsoft Marketplace Lead Writer role. ${LEAD_WRITER_ROLE_STEPS}`,
      });
    }
    return new InvalidConfigurationError(message, {
      ...common,
      remediation: `Dataverse denied access to ${identity(ctx)}: ${dvMessage || 'HTTP 403'}. Check the user is enabled and assign the Microsoft Marketplace Lead Writer role. ${LEAD_WRITER_ROLE_STEPS}`,
    });
  }

  if (!odata && looksLikeHtml(reply) && status < 500) {
    return new InvalidConfigurationError(`${message.replace(/: $/, '')} with a web page instead of the Web API`, {
      ...common, remediation: notDataverseRemediation(ctx, `answered ${ctx.operation} with an HTML page (HTTP ${status})`),
    });
  }
  if ((status >= 300 && status < 400) || status === 405 || (status === 404 && !odata)) {
    const location = headerText(reply.headers, 'location');
    return new InvalidConfigurationError(`${message}${location ? ` (redirect to ${location})` : ''}`, {
      ...common, remediation: notDataverseRemediation(ctx, `has no Dataverse Web API at /api/data (HTTP ${status}${location ? `, redirect to ${location}` : ''})`),
    });
  }
  if (status === 404) {
    return new InvalidConfigurationError(message, {
      ...common,
      remediation: `Dataverse did not find the resource: check apiVersion (the Web API version, e.g. 9.2) and that the environment at instanceUrl has the Lead table (Dynamics 365 Sales / Customer Engagement); then \`leadrelay resume <destination>\`.`,
    });
  }

  if (status === 400 || status === 413 || status === 412 || status === 422) {
    const unknown = /Could not find a property named '([^']+)'/i.exec(dvMessage);
    const tooLong = /length of the '([^']+)' attribute/i.exec(dvMessage);
    const remediation = unknown
      ? `'${unknown[1]}' is not a column of the lead table in this environment: fix or remove it in this destination's fields: (use the column's logical name, e.g. new_marketplaceoffer), then \`leadrelay dlq replay --id <leadId>\`.`
      : tooLong
        ? `The value for '${tooLong[1]}' is longer than the column allows: shorten it in this destination's fields: or widen the column in Dataverse, then \`leadrelay dlq replay --id <leadId>\`.`
        : `Dataverse rejected this lead's data: ${dvMessage || `HTTP ${status}`}. Fix the value or column in this destination's fields: (or the column's rules in Dataverse), then \`leadrelay dlq replay --id <leadId>\`.`;
    return new PayloadValidationError(message, { ...common, remediation });
  }

  if (status >= 500 || status === 408) return new RetryableError(message, common);
  return classifyHttpFailure({ status, message: dvMessage, retryAfter: headerText(reply.headers, 'retry-after'), destinationCode }, `Dataverse ${ctx.operation}`);
}

/** Node / axios network error codes. */
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_NONAME', 'EAI_NODATA']);
const TLS_CODES = /^(CERT_|ERR_TLS_CERT|UNABLE_TO_VERIFY|DEPTH_ZERO_SELF_SIGNED|SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER|ERR_SSL_WRONG_VERSION_NUMBER|EPROTO$)/;

/**
 * A call that got no HTTP answer. A name that does not resolve under *.dynamics.com, a refused connection or a TLS
 * certificate for another host means instanceUrl is wrong (configuration); timeouts, resets and other DNS trouble are transient.
 */
export function classifyDataverseNetworkFailure(code: string | undefined, detail: string, ctx: DataverseFailureContext): DeliveryError {
  const host = (() => {
    try {
      return new URL(ctx.instanceUrl).hostname.toLowerCase();
    } catch {
      return '';
    }
  })();
  const message = `Dataverse ${ctx.operation} at ${ctx.instanceUrl} failed${code ? ` (${code})` : ''}: ${detail}`;
  if (code && DNS_CODES.has(code) && /(^|\.)dynamics\.com$/.test(host)) {
    return new InvalidConfigurationError(message, { destinationCode: code, remediation: notDataverseRemediation(ctx, `does not resolve (${code}): no such environment`) });
  }
  if (code === 'ECONNREFUSED') {
    return new InvalidConfigurationError(message, { destinationCode: code, remediation: notDataverseRemediation(ctx, 'refused the connection') });
  }
  if (code && TLS_CODES.test(code)) {
    return new InvalidConfigurationError(message, {
      destinationCode: code,
      remediation: `The TLS certificate of ${host} could not be verified (${code}). Check that instanceUrl is the environment's own URL `
        + '(e.g. https://contoso.crm4.dynamics.com); if a TLS-inspecting proxy sits in between, make the worker trust its CA (NODE_EXTRA_CA_CERTS). '
        + 'Then `leadrelay resume <destination>`.',
    });
  }
  return networkFailure(`Dataverse ${ctx.operation} at ${ctx.instanceUrl}`, code, detail);
}
