import { randomUUID } from 'node:crypto';

/** What the token endpoint knows when it builds an error: used in Microsoft's message templates. */
export interface AadstsContext {
  tenant: string;
  clientId?: string;
  resource?: string;
  username?: string;
  correlationId?: string;
}

interface AadstsDefinition {
  status: number;
  error: string;
  /** The text after `AADSTSnnnn: `, as Microsoft words it (from the Entra error-code reference and observed replies). */
  text(ctx: AadstsContext): string;
  suberror?: string;
}

/**
 * The AADSTS errors the fake token endpoint can answer, with the HTTP status and OAuth `error` Entra ID
 * pairs them with (Microsoft Entra: AADSTS error codes reference).
 */
export const AADSTS = {
  7000215: { status: 401, error: 'invalid_client', text: (c) => `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${c.clientId}'.` },
  7000222: { status: 401, error: 'invalid_client', text: (c) => `The provided client secret keys for app '${c.clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.` },
  70002: { status: 401, error: 'invalid_client', text: () => 'Error validating credentials. AADSTS50012: Invalid client secret is provided.' },
  7000218: { status: 401, error: 'invalid_client', text: () => "The request body must contain the following parameter: 'client_assertion' or 'client_secret'." },
  700016: { status: 400, error: 'unauthorized_client', text: (c) => `Application with identifier '${c.clientId}' was not found in the directory '${c.tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.` },
  700011: { status: 400, error: 'unauthorized_client', text: (c) => `Application with identifier '${c.clientId}' was not found in the directory '${c.tenant}'.` },
  90002: { status: 400, error: 'invalid_request', text: (c) => `Tenant '${c.tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.` },
  900023: { status: 400, error: 'invalid_request', text: (c) => `Specified tenant identifier '${c.tenant}' is neither a valid DNS name, nor a valid external domain.` },
  90019: { status: 400, error: 'invalid_request', text: () => 'No tenant-identifying information found in either the request or implied by any provided credentials.' },
  70011: { status: 400, error: 'invalid_scope', text: () => "The provided value for the input parameter 'scope' is not valid." },
  500011: { status: 400, error: 'invalid_resource', text: (c) => `The resource principal named ${c.resource} was not found in the tenant named ${c.tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.` },
  50126: { status: 400, error: 'invalid_grant', text: () => 'Error validating credentials due to invalid username or password.' },
  50034: { status: 400, error: 'invalid_grant', text: (c) => `The user account ${c.username} does not exist in the ${c.tenant} directory. To sign into this application, the account must be added to the directory.` },
  50076: { status: 400, error: 'invalid_grant', suberror: 'basic_action', text: (c) => `Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '${c.resource}'.` },
  65001: { status: 400, error: 'invalid_grant', suberror: 'consent_required', text: (c) => `The user or administrator has not consented to use the application with ID '${c.clientId}'. Send an interactive authorization request for this user and resource.` },
  700082: { status: 400, error: 'invalid_grant', suberror: 'bad_token', text: () => "The refresh token has expired due to inactivity. The token was issued on 2026-01-01T00:00:00.0000000Z and was inactive for 90.00:00:00." },
  50173: { status: 400, error: 'invalid_grant', suberror: 'bad_token', text: () => "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '2026-01-01T00:00:00.0000000Z' and the TokensValidFrom date (before which tokens are not valid) for this user is '2026-02-01T00:00:00.0000000Z'." },
  70016: { status: 400, error: 'authorization_pending', text: () => 'OAuth 2.0 device flow error. Authorization is pending. Continue polling.' },
  70019: { status: 400, error: 'expired_token', text: () => 'Verification code expired.' },
  70000: { status: 400, error: 'invalid_grant', text: () => 'The provided value for the input parameter \'device_code\' is not valid.' },
  90055: { status: 429, error: 'temporarily_unavailable', text: () => 'There are too many incoming requests. Please try again later.' },
  50000: { status: 500, error: 'server_error', text: () => 'There was an error issuing a token or an issue with our sign-in service.' },
} satisfies Record<number, AadstsDefinition>;

export type AadstsCode = keyof typeof AADSTS;

/** Entra's error reply: `{error, error_description:"AADSTSnnnn: …", error_codes:[n], timestamp, trace_id, correlation_id, error_uri}`. */
export function aadstsBody(code: AadstsCode, ctx: AadstsContext): { status: number; body: Record<string, unknown> } {
  const def: AadstsDefinition = AADSTS[code];
  const traceId = randomUUID();
  const correlationId = ctx.correlationId ?? randomUUID();
  const timestamp = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  return {
    status: def.status,
    body: {
      error: def.error,
      // Entra puts the ids on their own CRLF-separated lines after the message.
      error_description: `AADSTS${code}: ${def.text(ctx)}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
      ...(def.suberror ? { suberror: def.suberror } : {}),
    },
  };
}
