import { InvalidConfigurationError, PayloadValidationError, RetryableError, ThrottledError } from '@leadrelay/core';
import { describe, expect, it } from 'vitest';
import { classifyDynamicsFailure, classifyDataverseNetworkFailure, type DataverseFailureContext } from './dynamics-errors.js';

const ctx: DataverseFailureContext = { instanceUrl: 'https://contoso.crm4.dynamics.com', mode: 'client-secret', clientId: 'app-1', operation: 'PATCH leads(x)' };
const odata = (code: string, message: string) => JSON.stringify({ error: { code, message } });

describe('classifyDynamicsFailure', () => {
  it('reads Retry-After as an HTTP date too, and falls back to a default wait', () => {
    const at = new Date(Date.now() + 60_000).toUTCString();
    const dated = classifyDynamicsFailure({ status: 429, headers: { 'retry-after': at }, body: odata('0x80072322', 'Number of requests exceeded the limit') }, ctx);
    expect(dated).toBeInstanceOf(ThrottledError);
    expect((dated as ThrottledError).retryAfterMs).toBeGreaterThan(50_000);
    const bare = classifyDynamicsFailure({ status: 429, headers: {}, body: '' }, ctx);
    expect((bare as ThrottledError).retryAfterMs).toBe(30_000);
  });

  it('503 with Retry-After throttles; 503 without is transient', () => {
    const busy = classifyDynamicsFailure({ status: 503, headers: { 'retry-after': '12' }, body: '' }, ctx);
    expect(busy).toBeInstanceOf(ThrottledError);
    expect((busy as ThrottledError).retryAfterMs).toBe(12_000);
    expect(classifyDynamicsFailure({ status: 503, headers: {}, body: '' }, ctx)).toBeInstanceOf(RetryableError);
    expect(classifyDynamicsFailure({ status: 502, headers: {}, body: '' }, ctx)).toBeInstanceOf(RetryableError);
  });

  it('redirects, 405 and a bare 404 mean instanceUrl is not the Web API', () => {
    const redirect = classifyDynamicsFailure({ status: 302, headers: { location: 'https://login.microsoftonline.com/x' }, body: '' }, ctx);
    expect(redirect).toBeInstanceOf(InvalidConfigurationError);
    expect(redirect.remediation).toContain('Fix instanceUrl');
    expect(redirect.message).toContain('login.microsoftonline.com');
    expect(classifyDynamicsFailure({ status: 405, headers: {}, body: '' }, ctx).remediation).toContain('Fix instanceUrl');
    expect(classifyDynamicsFailure({ status: 404, headers: {}, body: 'Not Found' }, ctx).remediation).toContain('Fix instanceUrl');
  });

  it('a 404 in Dataverse\'s own error format points at apiVersion', () => {
    const e = classifyDynamicsFailure({ status: 404, headers: {}, body: odata('0x80060888', "Resource not found for the segment 'leads'.") }, ctx);
    expect(e).toBeInstanceOf(InvalidConfigurationError);
    expect(e.remediation).toContain('apiVersion');
  });

  it('a length error names the column', () => {
    const e = classifyDynamicsFailure({ status: 400, headers: {}, body: odata('0x80044331', "A validation error occurred.  The length of the 'jobtitle' attribute of the 'lead' entity exceeded the maximum allowed length of '100'.") }, ctx);
    expect(e).toBeInstanceOf(PayloadValidationError);
    expect(e.remediation).toContain("'jobtitle'");
  });

  it('password mode remediations talk about the user, not an application user', () => {
    const e = classifyDynamicsFailure({ status: 403, headers: {}, body: odata('0x80040220', 'missing prvCreateLead privilege') }, { ...ctx, mode: 'password', username: 'u@contoso.com' });
    expect(e.remediation).toContain('The user auth.username (u@contoso.com)');
    expect(e.remediation).toContain('Microsoft Marketplace Lead Writer');
  });
});

describe('classifyDataverseNetworkFailure', () => {
  it('a *.dynamics.com name that does not resolve is configuration: no such environment', () => {
    const e = classifyDataverseNetworkFailure('ENOTFOUND', 'getaddrinfo ENOTFOUND contoso.crm4.dynamics.com', ctx);
    expect(e).toBeInstanceOf(InvalidConfigurationError);
    expect(e.remediation).toContain('Fix instanceUrl');
  });

  it('other DNS trouble, timeouts and resets are transient', () => {
    expect(classifyDataverseNetworkFailure('EAI_AGAIN', 'temporary failure', ctx)).toBeInstanceOf(RetryableError);
    expect(classifyDataverseNetworkFailure('ENOTFOUND', 'x', { ...ctx, instanceUrl: 'https://crm.example.org' })).toBeInstanceOf(RetryableError);
    expect(classifyDataverseNetworkFailure('ETIMEDOUT', 'x', ctx)).toBeInstanceOf(RetryableError);
    expect(classifyDataverseNetworkFailure('ECONNRESET', 'x', ctx)).toBeInstanceOf(RetryableError);
  });

  it('a certificate for another host is configuration', () => {
    const e = classifyDataverseNetworkFailure('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames", ctx);
    expect(e).toBeInstanceOf(InvalidConfigurationError);
    expect(e.remediation).toContain('instanceUrl');
  });
});
