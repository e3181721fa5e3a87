import {
  InvalidAuthenticationError, InvalidConfigurationError, RetryableError, ThrottledError, type DeliveryError,
} from '@leadrelay/core';

/** What a token failure is explained with: setting names and non-secret values only. */
export interface TokenFailureContext {
  mode: 'client-secret' | 'password';
  tenantId: string;
  clientId: string;
  username?: string;
  instanceUrl: string;
  /** `auth.authorityHost` as configured (or the default). */
  authorityHost: string;
  /** `<authorityHost>/<tenantId>`. */
  authority: string;
  /** Removes secret values (client secret, password) from any text we pass on. */
  scrub(text: string): string;
}

/** The parts of an MSAL error we read (AuthError / ServerError / InteractionRequiredAuthError). */
export interface MsalErrorLike {
  errorCode?: string;
  errorMessage?: string;
  errorNo?: string | number;
  status?: number;
  subError?: string;
  message?: string;
}

/** How long MSAL itself refuses to call the token endpoint again after a 429/5xx without Retry-After. */
export const MSAL_DEFAULT_THROTTLE_MS = 60_000;

const RESUME = 'then `leadrelay resume <destination>`';

/** The first line of Entra's description ("AADSTS7000215: Invalid client secret provided. …"), without trace ids. */
export function entraDescription(e: MsalErrorLike): string | undefined {
  const text = e.errorMessage ?? e.message ?? '';
  const m = /Description: ([\s\S]*?)(?: - Correlation ID:| - Trace ID:|$)/.exec(text);
  const description = (m ? m[1]! : text).split(/\r?\n|\s+Trace ID:/)[0]!.trim();
  return description || undefined;
}

/** The AADSTS number: `errorNo` when MSAL parsed it, else from the text. */
export function aadstsCode(e: MsalErrorLike): number | undefined {
  if (e.errorNo !== undefined && e.errorNo !== '' && !Number.isNaN(Number(e.errorNo))) return Number(e.errorNo);
  const m = /AADSTS(\d+)/.exec(`${e.errorMessage ?? ''} ${e.message ?? ''}`);
  if (m) return Number(m[1]);
  // MSAL's own throttle replays a cached 429/5xx with the codes as errorCode ("90055").
  return e.errorCode && /^\d+$/.test(e.errorCode) ? Number(e.errorCode) : undefined;
}

function appPortal(ctx: TokenFailureContext): string {
  return `Microsoft Entra ID > App registrations > the app with Application (client) ID ${ctx.clientId}`;
}

/**
 * Turns an MSAL token failure into a DeliveryError whose remediation names the setting to fix, in the spirit
 * of Microsoft's lead-configuration troubleshooting list (commercial marketplace lead management FAQ): bad secret → auth.clientSecret,
 * unknown tenant → auth.tenantId, unknown application → auth.clientId, bad password → auth.username/password.
 * 429 throttles, 5xx and network failures are transient. Never includes secret values.
 */
export function classifyTokenFailure(err: unknown, ctx: TokenFailureContext): DeliveryError {
  const e = (err ?? {}) as MsalErrorLike;
  const code = aadstsCode(e);
  const oauthError = e.errorCode ?? '';
  const description = ctx.scrub(entraDescription(e) ?? String(err));
  const destinationCode = code !== undefined ? `AADSTS${code}` : oauthError || undefined;
  const status = e.status;
  // Entra's description already starts with "AADSTSnnnn:"; add the code only when it does not, and the OAuth error name.
  const tags = [code !== undefined && !description.includes(`AADSTS${code}`) ? `AADSTS${code}` : '', /^[a-z_]+$/.test(oauthError) ? oauthError : ''].filter(Boolean);
  const message = `Microsoft Entra ID refused the ${ctx.mode === 'password' ? 'password (ROPC)' : 'client-credentials'} token request for ${ctx.instanceUrl}`
    + `${tags.length > 0 ? ` (${tags.join(' ')})` : ''}: ${description}`;
  const common = { destinationCode, status };
  const auth = (remediation: string) => new InvalidAuthenticationError(message, { ...common, remediation });
  const config = (remediation: string) => new InvalidConfigurationError(message, { ...common, remediation });

  switch (code) {
    case 7000215:
    case 70002:
      return auth(`auth.clientSecret is not a valid secret of application ${ctx.clientId} (Microsoft: "Invalid client secret is provided"). `
        + `Create a new client secret in ${appPortal(ctx)} > Certificates & secrets, copy its Value (not its Secret ID) into auth.clientSecret, ${RESUME}.`);
    case 7000222:
      return auth(`The client secret in auth.clientSecret has expired. Create a new one in ${appPortal(ctx)} > Certificates & secrets, `
        + `put its Value in auth.clientSecret, ${RESUME}. Note the new secret's expiry date so it is rotated before it lapses.`);
    case 7000218:
      return auth(ctx.mode === 'password'
        ? `Application ${ctx.clientId} is a confidential client, so Entra ID wants a client secret for the password flow. In ${appPortal(ctx)} > Authentication, set "Allow public client flows" to Yes — or use auth.mode: client-secret with an application user — ${RESUME}.`
        : `No client secret reached Entra ID: set auth.clientSecret to the secret's Value, ${RESUME}.`);
    case 700016:
    case 700011:
      return auth(`Application with identifier ${ctx.clientId} was not found in directory ${ctx.tenantId}. Check that auth.clientId is the `
        + `Application (client) ID shown on the app registration's Overview page, and that auth.tenantId is the Directory (tenant) ID the app is registered (or consented) in; ${RESUME}.`);
    case 90002:
      return config(`Tenant not found: auth.tenantId (${ctx.tenantId}) is not a valid directory. Copy the Directory (tenant) ID from Microsoft Entra ID > Overview into auth.tenantId. `
        + `This also happens when the tenant has no active subscriptions, or when auth.authorityHost (${ctx.authorityHost}) is not the cloud the tenant lives in; ${RESUME}.`);
    case 900023:
      return config(`auth.tenantId (${ctx.tenantId}) is neither a valid tenant ID nor a valid domain name. Use the Directory (tenant) ID GUID from Microsoft Entra ID > Overview `
        + `(or a verified domain such as contoso.onmicrosoft.com) in auth.tenantId, ${RESUME}.`);
    case 90019:
      return config(`No tenant could be determined: set auth.tenantId to the Directory (tenant) ID from Microsoft Entra ID > Overview, ${RESUME}.`);
    case 50126:
      return auth(`Invalid username or password: check auth.username (${ctx.username ?? ''}) and auth.password. The account must be able to sign in to Dynamics 365 `
        + `and hold a Dynamics 365 license; a password that expires (e.g. every 90 days) must be updated here too; ${RESUME}.`);
    case 50034:
      return auth(`auth.username (${ctx.username ?? ''}) does not exist in directory ${ctx.tenantId}: fix auth.username or auth.tenantId, ${RESUME}.`);
    case 50053:
    case 50057:
    case 50055:
    case 50173:
      return auth(`The account auth.username (${ctx.username ?? ''}) is locked, disabled or its password expired: unlock it or set a new password in auth.password, ${RESUME}.`);
    case 50076:
    case 50079:
    case 50158:
    case 53003:
      return config(`The account auth.username (${ctx.username ?? ''}) needs multi-factor authentication or is blocked by Conditional Access, which the password flow cannot satisfy. `
        + `Use auth.mode: client-secret with an application user that holds the Microsoft Marketplace Lead Writer role (or exclude this account from the policy), ${RESUME}.`);
    case 65001:
      return config(`Application ${ctx.clientId} has not been granted the Dynamics CRM user_impersonation permission. In ${appPortal(ctx)} > API permissions, `
        + `add Dynamics CRM > Delegated > user_impersonation and grant admin consent, ${RESUME}.`);
    case 500011:
    case 70011:
      return config(`Entra ID does not know ${ctx.instanceUrl} as a Dynamics 365 environment in tenant ${ctx.tenantId}. Fix instanceUrl (the environment URL, e.g. `
        + `https://contoso.crm4.dynamics.com, as shown in the Power Platform admin center) or auth.tenantId (the directory that environment belongs to), ${RESUME}.`);
    default:
      break;
  }

  if (status === 429 || code === 90055) {
    return new ThrottledError(message, MSAL_DEFAULT_THROTTLE_MS, { destinationCode, status });
  }
  if ((status !== undefined && status >= 500) || oauthError === 'server_error' || oauthError === 'temporarily_unavailable') {
    return new RetryableError(message, { destinationCode, status });
  }
  if (oauthError === 'network_error' || oauthError === 'openid_config_error' || oauthError === 'endpoints_resolution_error') {
    return new RetryableError(`Microsoft Entra ID (${ctx.authority}) could not be reached for a token: ${ctx.scrub(e.errorMessage || e.message || oauthError)}`, { destinationCode: oauthError });
  }
  if (oauthError === 'authority_uri_insecure' || oauthError === 'url_parse_error' || oauthError === 'invalid_authority' || oauthError === 'untrusted_authority'
    || oauthError === 'issuer_validation_failed' || oauthError === 'invalid_authority_metadata') {
    return new InvalidConfigurationError(`The authority ${ctx.authority} cannot be used (${oauthError}): ${ctx.scrub(e.errorMessage || e.message || '')}`, {
      destinationCode: oauthError,
      remediation: `Fix auth.authorityHost: it must be the https URL of a Microsoft Entra ID authority host (default https://login.microsoftonline.com; sovereign clouds use their own host), ${RESUME}.`,
    });
  }
  if (code !== undefined || (status !== undefined && status >= 400)) {
    return auth(`Entra ID refused the credentials. Check auth.tenantId (Directory ID), auth.clientId (Application ID) and `
      + `${ctx.mode === 'password' ? 'auth.username / auth.password' : 'auth.clientSecret'} against the app registration; ${RESUME}.`);
  }
  return new RetryableError(`Getting a token from Microsoft Entra ID failed: ${ctx.scrub(e.message ?? String(err))}`, { destinationCode });
}
