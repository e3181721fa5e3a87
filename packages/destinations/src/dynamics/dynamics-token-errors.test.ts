import { InvalidAuthenticationError, InvalidConfigurationError, RetryableError, ThrottledError } from '@leadrelay/core';
import { describe, expect, it } from 'vitest';
import { aadstsCode, classifyTokenFailure, entraDescription, type TokenFailureContext } from './dynamics-token-errors.js';

const SECRET = 'zz-Secret~Value-31337';
const ctx: TokenFailureContext = {
  mode: 'client-secret', tenantId: 't-1', clientId: 'app-1', instanceUrl: 'https://contoso.crm4.dynamics.com',
  authorityHost: 'https://login.microsoftonline.com', authority: 'https://login.microsoftonline.com/t-1',
  scrub: (text) => text.split(SECRET).join('[redacted]'),
};

/** The shape MSAL 7 gives a token-endpoint error (ServerError): errorCode, errorNo, status and a composed message. */
function serverError(code: number, error: string, text: string, status?: number) {
  const errorMessage = `Error(s): ${code} - Timestamp: 2024-01-01 00:00:00Z - Description: AADSTS${code}: ${text}\r\nTrace ID: abc\r\nCorrelation ID: def\r\nTimestamp: 2024 - Correlation ID: def - Trace ID: abc`;
  return { errorCode: error, errorNo: String(code), status, errorMessage, message: `${error}: ${errorMessage}` };
}

describe('classifyTokenFailure', () => {
  it('extracts Entra\'s description and code', () => {
    const e = serverError(7000215, 'invalid_client', 'Invalid client secret provided.', 401);
    expect(entraDescription(e)).toBe('AADSTS7000215: Invalid client secret provided.');
    expect(aadstsCode(e)).toBe(7000215);
    expect(aadstsCode({ errorCode: '90055' })).toBe(90055);
  });

  it('maps consent, MFA and unknown AADSTS codes to configuration', () => {
    expect(classifyTokenFailure(serverError(65001, 'invalid_grant', 'not consented'), { ...ctx, mode: 'password' }).remediation).toContain('user_impersonation');
    expect(classifyTokenFailure(serverError(50076, 'invalid_grant', 'use MFA'), { ...ctx, mode: 'password' })).toBeInstanceOf(InvalidConfigurationError);
    const other = classifyTokenFailure(serverError(12345, 'invalid_request', 'something new', 400), ctx);
    expect(other).toBeInstanceOf(InvalidAuthenticationError);
    expect(other.remediation).toContain('auth.clientSecret');
  });

  it('429 throttles, 5xx and network failures are transient', () => {
    expect(classifyTokenFailure(serverError(90055, 'temporarily_unavailable', 'too many', 429), ctx)).toBeInstanceOf(ThrottledError);
    expect(classifyTokenFailure(serverError(50000, 'server_error', 'oops', 503), ctx)).toBeInstanceOf(RetryableError);
    expect(classifyTokenFailure({ errorCode: 'network_error', errorMessage: 'Network request failed' }, ctx)).toBeInstanceOf(RetryableError);
    expect(classifyTokenFailure(new Error('boom'), ctx)).toBeInstanceOf(RetryableError);
  });

  it('an insecure or malformed authority is configuration naming auth.authorityHost', () => {
    const e = classifyTokenFailure({ errorCode: 'authority_uri_insecure', errorMessage: 'Authority URIs must use https.' }, ctx);
    expect(e).toBeInstanceOf(InvalidConfigurationError);
    expect(e.remediation).toContain('auth.authorityHost');
  });

  it('scrubs secret values that appear in any text it passes on', () => {
    const e = classifyTokenFailure(serverError(7000215, 'invalid_client', `bad secret ${SECRET}`, 401), ctx);
    expect(e.message).not.toContain(SECRET);
    expect(e.message).toContain('[redacted]');
    const n = classifyTokenFailure({ errorCode: 'network_error', errorMessage: `https://x/?client_secret=${SECRET}` }, ctx);
    expect(n.message).not.toContain(SECRET);
  });
});
