import {
  DeliveryError, InvalidAuthenticationError, InvalidConfigurationError, PayloadValidationError, RetryableError, ThrottledError,
} from '@leadrelay/core';
import { classifyHttpFailure, networkFailure } from '../shared/index.js';

const WHAT = 'Salesforce';
const RESUME = 'then `leadrelay resume <destination>`.';

/**
 * REQUEST_LIMIT_EXCEEDED on a REST call means the org's API request allowance (a rolling 24 h
 * window, shared with every other integration) is used up. Salesforce sends no Retry-After; the
 * window frees gradually, so probing once an hour costs one call and resumes within an hour of
 * capacity coming back. The concurrent long-running-request flavour of the same code clears in
 * seconds, so it gets a short wait.
 */
export const API_LIMIT_WAIT_MS = 60 * 60_000;
export const CONCURRENT_LIMIT_WAIT_MS = 60_000;
/** The token endpoint's `rate_limit_exceeded` (too many logins for the run-as user) carries no hint either. */
export const TOKEN_RATE_LIMIT_WAIT_MS = 5 * 60_000;

/** Record-level rejections: the same lead fails the same way every time. */
const PERMANENT_CODES = new Set([
  'REQUIRED_FIELD_MISSING', 'INVALID_FIELD', 'STRING_TOO_LONG', 'FIELD_CUSTOM_VALIDATION_EXCEPTION', 'DUPLICATES_DETECTED',
  'DUPLICATE_VALUE', 'INVALID_EMAIL_ADDRESS', 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', 'INVALID_TYPE_ON_FIELD_IN_RECORD',
  'MALFORMED_ID', 'NUMBER_OUTSIDE_VALID_RANGE', 'INVALID_FIELD_FOR_INSERT_UPDATE', 'FIELD_INTEGRITY_EXCEPTION',
  'CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY', 'JSON_PARSER_ERROR', 'INVALID_CROSS_REFERENCE_KEY', 'FIELD_FILTER_VALIDATION_EXCEPTION',
  'INVALID_FIELD_WHEN_USING_TEMPLATE', 'CANNOT_EXECUTE_FLOW_TRIGGER',
]);

/** Org or permission setup: every lead would fail until someone fixes Salesforce or the settings. */
const CONFIGURATION_CODES: Record<string, string> = {
  API_DISABLED_FOR_ORG: 'The org cannot use the REST API (an edition without API access): use `mode: web-to-lead`, or enable API access for the org',
  API_CURRENTLY_DISABLED: 'API access is turned off for the run-as user: give the user the "API Enabled" permission',
  INSUFFICIENT_ACCESS_OR_READONLY: 'The run-as user may not create leads: give it Create on Lead (profile or permission set) and edit access to every mapped field',
  INSUFFICIENT_ACCESS: 'The run-as user may not create leads: give it Create on Lead (profile or permission set)',
  INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY: 'The run-as user cannot reference a record the lead points to (owner from an assignment rule, record type, campaign): check its sharing and record-type access',
  NOT_FOUND: 'The REST resource does not exist: check apiVersion (e.g. 62.0) and that loginUrl is the org\'s My Domain',
  INVALID_TYPE: 'The run-as user cannot see the Lead object: give it Read and Create on Lead',
  FUNCTIONALITY_NOT_ENABLED: 'A feature the request needs is not enabled in the org',
  INVALID_AUTH_HEADER: 'Salesforce rejected the Authorization header: check loginUrl and the external client app',
};

/** Salesforce-side hiccups: the same request succeeds later. */
const TRANSIENT_CODES = new Set(['UNKNOWN_EXCEPTION', 'SERVER_UNAVAILABLE', 'UNABLE_TO_LOCK_ROW', 'REQUEST_RUNNING_TOO_LONG', 'QUERY_TIMEOUT']);

export const SESSION_CODES = new Set(['INVALID_SESSION_ID', 'ERROR_HTTP_401']);

/** One Salesforce REST error as it comes in the body (`[{message, errorCode, fields}]`). */
export interface SalesforceApiErrorItem {
  errorCode: string;
  message: string;
  fields?: string[];
}

/** Removes registered secrets from text that came back from the wire. */
export type Scrub = (text: string) => string;

function cut(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

function errorItem(v: unknown): SalesforceApiErrorItem | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.errorCode !== 'string' && typeof o.statusCode !== 'string') return undefined;
  const fields = Array.isArray(o.fields) ? o.fields.filter((f): f is string => typeof f === 'string') : undefined;
  return { errorCode: String(o.errorCode ?? o.statusCode), message: typeof o.message === 'string' ? o.message : '', ...(fields?.length ? { fields } : {}) };
}

/**
 * The Salesforce errors inside what jsforce threw: its `HttpApiError` has `errorCode` (Salesforce's,
 * or `ERROR_HTTP_<status>` when the body had none) and `data` (the error object, or the array when
 * there were several: `MULTIPLE_API_ERRORS`). Undefined when it is not an API answer at all.
 */
export function apiErrorItems(e: unknown): SalesforceApiErrorItem[] | undefined {
  if (!(e instanceof Error)) return undefined;
  const { errorCode, data } = e as Error & { errorCode?: unknown; data?: unknown };
  if (typeof errorCode !== 'string') return undefined;
  if (Array.isArray(data)) {
    const items = data.map(errorItem).filter((x): x is SalesforceApiErrorItem => !!x);
    if (items.length) return items;
  }
  const item = errorItem(data);
  if (item) return [item];
  return [{ errorCode, message: typeof data === 'string' ? data : e.message }];
}

/** True when jsforce saw a 401: the access token expired or was revoked. */
export function isSessionRejected(e: unknown): boolean {
  return !!apiErrorItems(e)?.some((i) => SESSION_CODES.has(i.errorCode));
}

function describeItems(items: SalesforceApiErrorItem[], scrub: Scrub): string {
  return items.map((i) => `${i.errorCode}${i.message ? `: ${cut(scrub(i.message))}` : ''}${i.fields?.length ? ` (fields: ${i.fields.join(', ')})` : ''}`).join('; ');
}

function permanentRemediation(code: string, fields: string[] | undefined): string {
  const on = fields?.length ? ` (${fields.join(', ')})` : '';
  switch (code) {
    case 'REQUIRED_FIELD_MISSING':
      return `A field Salesforce requires is empty${on}: map it in this destination's \`fields:\` or make it optional in Salesforce, then \`leadrelay dlq replay --id <leadId>\`.`;
    case 'INVALID_FIELD':
      return 'A field name in `fields:` does not exist on Lead, or the run-as user cannot see it: use the field\'s API name (e.g. `Offer__c`) and check its field-level security, then `leadrelay dlq replay --id <leadId>`.';
    case 'STRING_TOO_LONG':
      return `A value is longer than its Salesforce field${on}: lengthen the field in Salesforce or map a shorter value, then \`leadrelay dlq replay --id <leadId>\`.`;
    case 'FIELD_CUSTOM_VALIDATION_EXCEPTION':
      return `A validation rule on Lead rejected the record${on}: relax the rule for the run-as user or fill the field via \`fields:\`, then \`leadrelay dlq replay --id <leadId>\`.`;
    case 'DUPLICATES_DETECTED':
      return 'A duplicate rule on Lead with action Block matched an existing record: set the rule\'s action on create to Allow (optionally with a report), or merge the records, then `leadrelay dlq replay --id <leadId>` if you still want this lead.';
    default:
      return `Salesforce rejected the lead${on}: fix the field mapping or the Lead rules in Salesforce, then \`leadrelay dlq replay --id <leadId>\`.`;
  }
}

/** Classifies what a REST call (create, describe) threw. 401s are the caller's to handle first. */
export function classifySalesforceFailure(e: unknown, scrub: Scrub): DeliveryError {
  const network = networkError(e, scrub);
  if (network) return network;
  const items = apiErrorItems(e);
  if (!items) return new RetryableError(`${WHAT} call failed: ${cut(scrub(e instanceof Error ? e.message : String(e)))}`);
  return classifyApiErrors(items, scrub);
}

/** Classifies Salesforce REST errors (`[{errorCode, message, fields}]`) by the first one's code. */
export function classifyApiErrors(items: SalesforceApiErrorItem[], scrub: Scrub): DeliveryError {
  const first = items[0]!;
  const code = first.errorCode;
  const message = `${WHAT} REST API answered ${describeItems(items, scrub)}`;
  const fields = items.flatMap((i) => i.fields ?? []);
  const common = { destinationCode: code };
  if (code === 'REQUEST_LIMIT_EXCEEDED') {
    const wait = /concurrent/i.test(first.message) ? CONCURRENT_LIMIT_WAIT_MS : API_LIMIT_WAIT_MS;
    return new ThrottledError(message, wait, {
      ...common, status: 403,
      remediation: 'None needed: delivery resumes when the org\'s API allowance frees up. If it happens often, raise the org\'s API limit or lower other integrations\' usage (Setup → Company Information → API Requests, Last 24 Hours).',
    });
  }
  if (SESSION_CODES.has(code)) return sessionRejected(message);
  if (CONFIGURATION_CODES[code]) return new InvalidConfigurationError(message, { ...common, remediation: `${CONFIGURATION_CODES[code]}, ${RESUME}` });
  if (PERMANENT_CODES.has(code)) return new PayloadValidationError(message, { ...common, remediation: permanentRemediation(code, fields) });
  if (TRANSIENT_CODES.has(code)) return new RetryableError(message, common);
  const http = /^ERROR_HTTP_(\d{3})$/.exec(code);
  if (http) return classifyHttpFailure({ status: Number(http[1]), message: describeItems(items, scrub) }, `${WHAT} REST API`);
  // An unknown code naming fields is about this record; anything else may be Salesforce having a bad moment.
  if (fields.length) return new PayloadValidationError(message, { ...common, remediation: permanentRemediation(code, fields) });
  return new RetryableError(message, common);
}

/** A 401 that survived a fresh token: the token is valid for OAuth but not for this API. */
export function sessionRejected(detail: string): DeliveryError {
  return new InvalidAuthenticationError(`${detail} (right after a fresh access token)`, {
    destinationCode: 'INVALID_SESSION_ID', status: 401,
    remediation: 'Salesforce issued a token but the REST API refused it: in the external client app give the OAuth scope "Manage user data via APIs (api)", give the run-as user the "API Enabled" permission, check session policies (IP restrictions, "Lock sessions to the IP address") and that loginUrl is the org\'s My Domain, ' + RESUME,
  });
}

const TOKEN_REMEDIATIONS: Record<string, string> = {
  invalid_client_id: 'Salesforce does not know this clientId at loginUrl: set clientId to the Consumer Key of the external client app (Setup → External Client App Manager → the app → Settings → OAuth Settings → Consumer Key and Secret) in the org loginUrl points to. A new app can take up to 10 minutes to become usable',
  invalid_client: 'clientSecret does not match the app\'s Consumer Secret: copy the current Consumer Secret of the external client app (it changes when rotated) into clientSecret',
  invalid_client_credentials: 'clientSecret does not match the app\'s Consumer Secret: copy the current Consumer Secret of the external client app (it changes when rotated) into clientSecret',
  invalid_grant: 'Enable the client credentials flow for the external client app (Policies → OAuth Flows → Enable Client Credentials Flow) and choose its Run As user: an active user with the "API Enabled" permission and Create on Lead',
  unsupported_grant_type: 'The external client app does not allow the client credentials flow: in its OAuth settings tick "Enable Client Credentials Flow", and in its policies choose a Run As user',
  inactive_user: 'The app\'s Run As user is inactive or frozen: reactivate it, or choose another active user with "API Enabled" in the app\'s client credentials policy',
  inactive_org: 'The Salesforce org is locked, closed or suspended (or a sandbox/trial expired): check loginUrl points to a live org, or contact the org\'s administrator',
};

/** Classifies what `conn.authorize({grant_type: 'client_credentials', …})` threw (jsforce names the Error after OAuth's `error`). */
export function classifyTokenError(e: unknown, scrub: Scrub): DeliveryError {
  const network = networkError(e, scrub);
  if (network) return network;
  if (e instanceof DeliveryError) return e;
  const name = e instanceof Error ? e.name : '';
  const description = cut(scrub(e instanceof Error ? e.message : String(e)));
  const message = `${WHAT} token endpoint answered ${name}${description ? `: ${description}` : ''}`;
  const common = { destinationCode: name };
  if (name === 'rate_limit_exceeded') return new ThrottledError(message, TOKEN_RATE_LIMIT_WAIT_MS, common);
  if (name === 'invalid_grant' && /domain/i.test(description)) {
    return new InvalidConfigurationError(message, {
      ...common, remediation: `The client credentials flow only works on the org's own My Domain: set loginUrl to https://<your-domain>.my.salesforce.com (not login.salesforce.com or test.salesforce.com), ${RESUME}`,
    });
  }
  const remediation = TOKEN_REMEDIATIONS[name];
  if (remediation) {
    const Cls = name.startsWith('invalid_client') ? InvalidAuthenticationError : InvalidConfigurationError;
    return new Cls(message, { ...common, remediation: `${remediation}, ${RESUME}` });
  }
  const http = /^ERROR_HTTP_(\d{3})$/.exec(name);
  if (http) {
    const status = Number(http[1]);
    if (status === 429 || status === 408 || status >= 500) return classifyHttpFailure({ status, message: description }, `${WHAT} token endpoint`);
    return new InvalidConfigurationError(message, {
      status, destinationCode: name,
      remediation: `loginUrl does not look like a Salesforce login host (its token endpoint answered HTTP ${status}): set it to the org's My Domain, e.g. https://<your-domain>.my.salesforce.com, ${RESUME}`,
    });
  }
  // OAuth error codes are lower_snake_case; anything else here is not an answer from Salesforce.
  if (/^[a-z_]+$/.test(name)) {
    return new InvalidConfigurationError(message, { ...common, remediation: `Check loginUrl, clientId, clientSecret and the external client app's client credentials settings, ${RESUME}` });
  }
  return new RetryableError(`${WHAT} authorization failed: ${description}`);
}

/** node-fetch (jsforce's transport) and axios network failures, and our own timeouts. */
export function networkError(e: unknown, scrub: Scrub): DeliveryError | undefined {
  if (e instanceof RetryableError) return e;
  if (!(e instanceof Error)) return undefined;
  const code = (e as { code?: unknown }).code;
  if (e.name === 'FetchError' || e.name === 'AbortError' || e.message === 'Request Timeout') {
    return networkFailure(WHAT, typeof code === 'string' ? code : undefined, cut(scrub(e.message)));
  }
  return undefined;
}
