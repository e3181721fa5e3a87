import { describe, expect, it } from 'vitest';
import { InvalidAuthenticationError, InvalidConfigurationError, PayloadValidationError, RetryableError, ThrottledError, type DeliveryError } from '@leadrelay/core';
import { CONCURRENCY_WAIT_MS, RATE_LIMIT_WAIT_MS, classifyMarketoFailure, type MarketoErrorContext } from './marketo-errors.js';
import { quotaResetDelayMs } from './marketo-quota-reset.js';

const NOW = Date.parse('2026-03-02T15:00:00Z');
const ctx: MarketoErrorContext = { destinationId: 'mkto', operation: 'sync', lookupField: 'email', now: () => NOW };
const form: MarketoErrorContext = { ...ctx, operation: 'form', formId: 1234 };

/** A whole-call failure as Marketo sends it: HTTP 200, success:false, errors[]. */
const response = (code: string, message: string, c = ctx) => classifyMarketoFailure({ kind: 'response', errors: [{ code, message }], requestId: 'e42b#1' }, c);

describe('classifyMarketoFailure: the canonical failures', () => {
  it('timeout and other network errors are transient, named like every destination\'s (networkFailure)', () => {
    const e = classifyMarketoFailure({ kind: 'network', code: 'ECONNABORTED', message: 'timed out' }, ctx);
    expect(e).toBeInstanceOf(RetryableError);
    expect(e.message).toBe('Marketo could not be reached (ECONNABORTED): timed out');
    expect(e.destinationCode).toBe('ECONNABORTED');
    expect(classifyMarketoFailure({ kind: 'network', code: undefined, message: 'socket hang up' }, ctx).message).toBe('Marketo could not be reached: socket hang up');
  });

  it('5xx from in front of Marketo is transient; 604/608/611/713 too', () => {
    expect(classifyMarketoFailure({ kind: 'http', status: 502, body: 'Bad Gateway' }, ctx).kind).toBe('transient');
    for (const code of ['604', '608', '611', '713']) expect(response(code, 'x').kind, code).toBe('transient');
  });

  it('rate limits (Marketo\'s 429 is HTTP 200 with 606/615/607) throttle for the documented waits', () => {
    const rate = response('606', 'Max rate limit \'100\' exceeded with in \'20\' secs');
    expect(rate).toBeInstanceOf(ThrottledError);
    expect((rate as ThrottledError).retryAfterMs).toBe(RATE_LIMIT_WAIT_MS);
    expect(rate.message).toContain('(requestId e42b#1)');
    expect((response('615', 'Concurrent access limit reached') as ThrottledError).retryAfterMs).toBe(CONCURRENCY_WAIT_MS);
    const quota = response('607', 'Daily quota reached') as ThrottledError;
    expect(quota.retryAfterMs).toBe(quotaResetDelayMs(NOW));
    expect(quota.quotaReset).toBe(true);
  });

  it('auth: 601/602 after the renewal are authentication failures, 603 configuration; each with a remediation', () => {
    const expired = response('601', 'Access token invalid');
    expect(expired).toBeInstanceOf(InvalidAuthenticationError);
    expect(expired.kind).toBe('configuration');
    expect(expired.remediation).toMatch(/identityUrl and restUrl must belong to the same Marketo instance.*leadrelay resume mkto/);
    expect(response('602', 'Access token expired')).toBeInstanceOf(InvalidAuthenticationError);
    const denied = response('603', 'Access denied');
    expect(denied).toBeInstanceOf(InvalidConfigurationError);
    expect(denied).not.toBeInstanceOf(InvalidAuthenticationError);
    expect(denied.remediation).toMatch(/Read-Write Lead/);
  });

  it('validation: a body Marketo cannot read (609/612/613) is permanent, pointing at a proxy; 413 too', () => {
    for (const code of ['609', '612', '613']) {
      const e = response(code, 'Invalid JSON');
      expect(e, code).toBeInstanceOf(PayloadValidationError);
      expect(e.remediation).toMatch(/no proxy/);
    }
    const big = classifyMarketoFailure({ kind: 'http', status: 413, body: '' }, ctx);
    expect([big.kind, big.destinationCode]).toEqual(['permanent', '413']);
  });

  it('record-level rejects fail only that lead, permanent, with the code\'s remediation (1006 names the form)', () => {
    const rec = (code: string, c = ctx): DeliveryError => classifyMarketoFailure({ kind: 'record', reasons: [{ code, message: 'x' }], status: 'skipped', requestId: 'r1' }, c);
    const invalid = rec('1003');
    expect(invalid).toBeInstanceOf(PayloadValidationError);
    expect([invalid.destinationCode, invalid.message]).toEqual(['1003', 'Marketo skipped the lead: 1003 x (requestId r1)']);
    expect(rec('1006', form).remediation).toMatch(/not on Marketo form 1234/);
    expect(rec('1006').remediation).toMatch(/does not exist in Marketo/);
    expect(rec('1007').remediation).toMatch(/share this email/);
    // A skip without a reason is still a permanent failure of that lead, never a crash.
    expect(classifyMarketoFailure({ kind: 'record', reasons: undefined, status: 'skipped' }, ctx).kind).toBe('permanent');
    // A call-level code inside a record result reads like the call-level one.
    expect(rec('611').kind).toBe('transient');
  });

  it('an unknown form or program pauses the destination; an unknown code retries rather than lose a lead', () => {
    expect(response('1013', 'Form not found', form)).toBeInstanceOf(InvalidConfigurationError);
    expect(response('1013', 'Object not found').kind).toBe('permanent');
    expect(response('799', 'something new').kind).toBe('transient');
    expect(classifyMarketoFailure({ kind: 'http', status: 404, body: '' }, ctx).kind).toBe('configuration');
  });
});
