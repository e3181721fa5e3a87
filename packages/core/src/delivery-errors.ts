import { ErrorCodes } from './error-codes.js';

/**
 * How a failed delivery attempt is classified. The worker engine decides what happens from the
 * class alone: retry, wait, dead-letter or pause. Every error carries a remediation a person can act on.
 */
export type DeliveryErrorKind = 'transient' | 'throttled' | 'permanent' | 'configuration';

export interface DeliveryErrorOptions {
  /** What a person should do about it; shown in status, dlq and the dashboard. */
  remediation?: string;
  /** The destination's own error code (`606`, `AADSTS7000215`, `INVALID_FIELD`, HTTP status…). */
  destinationCode?: string;
  /** HTTP status of the failed call, when there was one. */
  status?: number;
  cause?: unknown;
}

export abstract class DeliveryError extends Error {
  abstract readonly kind: DeliveryErrorKind;
  /** Stable machine-readable code of the class, one of `ErrorCodes` (e.g. `LR_TRANSIENT`). */
  abstract readonly code: string;
  readonly remediation: string;
  readonly destinationCode?: string;
  readonly status?: number;

  constructor(message: string, defaultRemediation: string, options: DeliveryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.remediation = options.remediation ?? defaultRemediation;
    this.destinationCode = options.destinationCode;
    this.status = options.status;
  }

  /** A plain object for storage: never includes the cause (it may hold request details). */
  toJSON(): SerializedDeliveryError {
    return {
      kind: this.kind, code: this.code, message: this.message, remediation: this.remediation,
      ...(this.destinationCode === undefined ? {} : { destinationCode: this.destinationCode }),
      ...(this.status === undefined ? {} : { status: this.status }),
    };
  }
}

export interface SerializedDeliveryError {
  kind: DeliveryErrorKind;
  code: string;
  message: string;
  remediation: string;
  destinationCode?: string;
  status?: number;
}

/** Network errors, timeouts, 5xx: retried with exponential backoff up to `retry.attempts`. */
export class RetryableError extends DeliveryError {
  readonly kind = 'transient' as const;
  readonly code = ErrorCodes.TRANSIENT;
  constructor(message: string, options?: DeliveryErrorOptions) {
    super(message, 'None needed: LeadRelay retries with backoff. If it keeps failing, check that the destination is up and reachable from the worker.', options);
  }
}

export interface ThrottledErrorOptions extends DeliveryErrorOptions {
  /**
   * The wait is for a quota with a known reset (Web-to-Lead's 500 a day, Marketo's daily quota), not
   * open-ended throttling: it never counts against `retry.maxThrottleWait`, so a backlog larger than
   * one day's quota waits in the queue instead of being dead-lettered.
   */
  quotaReset?: boolean;
}

/** The destination asked us to slow down: wait `retryAfterMs`, pause only this destination, keep the attempt. */
export class ThrottledError extends DeliveryError {
  readonly kind = 'throttled' as const;
  readonly code = ErrorCodes.THROTTLED;
  readonly retryAfterMs: number;
  readonly quotaReset: boolean;
  constructor(message: string, retryAfterMs: number, options: ThrottledErrorOptions = {}) {
    super(message, 'None needed: delivery resumes when the destination\'s limit resets. If it happens often, lower this destination\'s rateLimit or concurrency.', options);
    this.retryAfterMs = Math.max(0, Math.round(retryAfterMs));
    this.quotaReset = options.quotaReset ?? false;
  }
}

/** The destination rejected this lead for good (validation, missing field): dead-letter at once. */
export class PayloadValidationError extends DeliveryError {
  readonly kind = 'permanent' as const;
  readonly code = ErrorCodes.PAYLOAD_REJECTED;
  constructor(message: string, options?: DeliveryErrorOptions) {
    super(message, 'Fix the field mapping or the destination\'s field rules, then `leadrelay dlq replay --id <leadId>`.', options);
  }
}

/** Credentials, permissions or setup are wrong: pause the destination and keep its leads until fixed. */
export class InvalidConfigurationError extends DeliveryError {
  readonly kind = 'configuration' as const;
  readonly code: string = ErrorCodes.CONFIGURATION;
  constructor(message: string, options?: DeliveryErrorOptions) {
    super(message, 'Fix the destination settings in leadrelay.yaml, then `leadrelay resume <destination>`.', options);
  }
}

/** A configuration failure caused by credentials (secret, password, token). */
export class InvalidAuthenticationError extends InvalidConfigurationError {
  override readonly code = ErrorCodes.AUTHENTICATION;
}

export function isDeliveryError(e: unknown): e is DeliveryError {
  return e instanceof DeliveryError;
}

/** Anything a destination throws that is not classified is treated as transient: never lose a lead to a bug's guess. */
export function classifyError(e: unknown): DeliveryError {
  if (isDeliveryError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new RetryableError(message, { cause: e });
}

/**
 * Parses an HTTP `Retry-After` header (seconds or an HTTP date) into milliseconds.
 * Returns undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | number | undefined | null, now = Date.now()): number | undefined {
  if (value === undefined || value === null) return undefined;
  const text = String(Array.isArray(value) ? value[0] : value).trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
