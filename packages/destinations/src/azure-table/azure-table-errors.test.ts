import { describe, expect, it } from 'vitest';
import { RestError } from '@azure/data-tables';
import { InvalidAuthenticationError, InvalidConfigurationError, PayloadValidationError, RetryableError, ThrottledError } from '@leadrelay/core';
import { classifyAzureTableFailure, readTableFailure, type ClassifyContext } from './azure-table-errors.js';

const ctx: ClassifyContext = {
  what: 'Azure Table storage (https://acct.table.core.windows.net, table Leads)', destinationId: 'table', timeoutMs: 400,
  redact: (t) => t.replaceAll('S3CR3TKEY', '[redacted]'),
};

/** A failure as @azure/data-tables throws it for one operation: the service code in details.errorCode. */
function serviceError(statusCode: number, errorCode: string, message: string, retryAfter?: string): RestError {
  const e = new RestError(`${message}\nRequestId:0f3c\nTime:2026-03-01T10:20:30.0000000Z`, { statusCode });
  e.details = { errorCode, odataError: { code: errorCode, message: { value: `${message}\nRequestId:0f3c` } } };
  if (retryAfter) Object.assign(e, { response: { headers: { get: (n: string) => (n === 'retry-after' ? retryAfter : undefined) } } });
  return e;
}

describe('classifyAzureTableFailure: the canonical failures', () => {
  it('our own deadline (AbortError) is a transient timeout; a refused connection is a transient network failure', () => {
    const abort = Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });
    const t = classifyAzureTableFailure(abort, ctx);
    expect(t).toBeInstanceOf(RetryableError);
    expect([t.message, t.destinationCode]).toEqual(['Azure Table storage (https://acct.table.core.windows.net, table Leads) did not answer within 400ms', 'ETIMEDOUT']);
    const refused = classifyAzureTableFailure(new RestError('connect ECONNREFUSED 127.0.0.1:10002', { code: 'ECONNREFUSED' }), ctx);
    expect(refused).toBeInstanceOf(RetryableError);
    expect(refused.message).toMatch(/could not be reached \(ECONNREFUSED\)/);
  });

  it('5xx is transient; the message is the first line, without RequestId', () => {
    const e = classifyAzureTableFailure(serviceError(500, 'InternalError', 'Server encountered an internal error.'), ctx);
    expect(e.kind).toBe('transient');
    expect(e.message).not.toContain('RequestId');
  });

  it('ServerBusy (503) and 429 throttle for Retry-After', () => {
    const busy = classifyAzureTableFailure(serviceError(503, 'ServerBusy', 'The server is busy.', '7'), ctx);
    expect(busy).toBeInstanceOf(ThrottledError);
    expect((busy as ThrottledError).retryAfterMs).toBe(7_000);
    expect(classifyAzureTableFailure(serviceError(429, 'TooManyRequests', 'Slow down.', '3'), ctx)).toBeInstanceOf(ThrottledError);
  });

  it('auth: a refused key is an authentication failure; a SAS without the permission is configuration; secrets redacted', () => {
    const auth = classifyAzureTableFailure(serviceError(403, 'AuthenticationFailed', 'Server failed to authenticate the request. S3CR3TKEY'), ctx);
    expect(auth).toBeInstanceOf(InvalidAuthenticationError);
    expect(auth.message).not.toContain('S3CR3TKEY');
    expect(auth.remediation).toMatch(/Access keys.*leadrelay resume table/);
    const perm = classifyAzureTableFailure(serviceError(403, 'AuthorizationPermissionMismatch', 'This request is not authorized to perform this operation using this permission.'), ctx);
    expect(perm).toBeInstanceOf(InvalidConfigurationError);
    expect(perm).not.toBeInstanceOf(InvalidAuthenticationError);
  });

  it('validation and record rejects (400 codes) are permanent, with the remediation for the code', () => {
    const invalid = classifyAzureTableFailure(serviceError(400, 'InvalidInput', 'One of the request inputs is not valid.'), ctx);
    expect([invalid.kind, invalid.destinationCode]).toEqual(['permanent', 'InvalidInput']);
    const big = classifyAzureTableFailure(serviceError(400, 'PropertyValueTooLarge', 'The property value exceeds the maximum allowed size (64KB).'), ctx);
    expect(big).toBeInstanceOf(PayloadValidationError);
    expect(big.remediation).toMatch(/64 KiB per property/);
  });

  it('reads a transaction failure: the operation index leaves the message', () => {
    const e = new RestError('1:The specified entity already exists.\nRequestId:1', { code: 'EntityAlreadyExists', statusCode: 409 });
    expect(readTableFailure(e)).toMatchObject({ status: 409, code: 'EntityAlreadyExists', index: 1, message: 'The specified entity already exists.' });
  });
});
