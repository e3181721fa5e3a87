import { describe, expect, it } from 'vitest';
import { InvalidAuthenticationError, InvalidConfigurationError, PayloadValidationError, RetryableError, ThrottledError } from '@leadrelay/core';
import { DEFAULT_THROTTLE_MS } from '../shared/index.js';
import { classifyHttpsFailure, safeUrl, type HttpsFailureContext } from './https-errors.js';

const ctx: HttpsFailureContext = { what: 'Webhook https://hooks.example.com', destinationId: 'hook', url: 'https://hooks.example.com/in?code=SECRET', format: 'leadrelay' };
const fail = (status: number, headers: Record<string, unknown> = {}, excerpt = '') => classifyHttpsFailure({ status, headers, excerpt }, ctx);

describe('classifyHttpsFailure: the canonical failures', () => {
  it('5xx and 408 are transient', () => {
    for (const status of [500, 502, 503, 504, 408]) expect(fail(status), String(status)).toBeInstanceOf(RetryableError);
    expect(fail(500, {}, 'boom').message).toBe('Webhook https://hooks.example.com answered HTTP 500: boom');
  });

  it('429 throttles for Retry-After (seconds or an HTTP date), else the default; a 503 with Retry-After too', () => {
    const t = fail(429, { 'retry-after': '7' });
    expect(t).toBeInstanceOf(ThrottledError);
    expect((t as ThrottledError).retryAfterMs).toBe(7_000);
    expect((fail(429) as ThrottledError).retryAfterMs).toBe(DEFAULT_THROTTLE_MS);
    expect((fail(503, { 'retry-after': '2' }) as ThrottledError).retryAfterMs).toBe(2_000);
  });

  it('auth: 401 is an authentication failure, 403 configuration, both with a remediation naming the destination', () => {
    const auth = fail(401);
    expect(auth).toBeInstanceOf(InvalidAuthenticationError);
    expect(auth.remediation).toMatch(/signingSecrets configured for hook.*leadrelay resume hook/);
    const forbidden = fail(403);
    expect(forbidden).toBeInstanceOf(InvalidConfigurationError);
    expect(forbidden).not.toBeInstanceOf(InvalidAuthenticationError);
  });

  it('validation and record rejects (400, 422) are permanent for the lead, with a replay remediation naming the format', () => {
    for (const status of [400, 422]) {
      const e = fail(status, {}, '{"error":"lead rejected"}');
      expect(e, String(status)).toBeInstanceOf(PayloadValidationError);
      expect(e.destinationCode).toBe(String(status));
      expect(e.remediation).toMatch(/format: leadrelay.*dlq replay/);
    }
  });

  it('a redirect or 410 is configuration (never followed); the location is named without its query', () => {
    const moved = fail(302, { location: 'https://new.example.com/hook?sig=abc' });
    expect(moved).toBeInstanceOf(InvalidConfigurationError);
    expect(moved.message).toContain('redirect to https://new.example.com/hook)');
    expect(moved.message).not.toContain('sig=abc');
    expect(fail(410).remediation).toMatch(/disabled this endpoint/);
    expect(safeUrl('/relative?x=1', 'https://a.example.com/base')).toBe('https://a.example.com/relative');
    expect(safeUrl('http://[bad', 'also bad')).toBeUndefined();
  });
});
