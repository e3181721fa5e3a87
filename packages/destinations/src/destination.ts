import type { z } from 'zod';
import type { DeliveryError, FieldValue, Lead } from '@leadrelay/core';
import type { Logger } from '@leadrelay/observability';
import type { NetworkSettings } from './shared/network.js';

/** Settings every destination has, whatever its type (`destinations[]`, docs/configuration.md → Every destination). */
export interface CommonDestinationSettings {
  id: string;
  type: string;
  enabled: boolean;
  /** Extra or overriding destination fields; values are templates (`{{customer.email}}`). */
  fields?: Record<string, FieldValue>;
  /** Plain http allowed for non-loopback hosts (local emulators). */
  allowInsecure: boolean;
}

/** A budget of `limit` uses per rolling window, shared by every worker process (Redis-backed in production). */
export interface RollingQuota {
  /** Takes one use, or says how long until one frees up. */
  take(): Promise<{ ok: true } | { ok: false; retryAfterMs: number }>;
  /** Uses left in the current window. */
  remaining(): Promise<number>;
}

/** Keys held by one `KeyLocks.tryAcquire`; `release` frees them (only if still ours). */
export interface KeyLease {
  readonly held: ReadonlySet<string>;
  release(): Promise<void>;
}

/**
 * Exclusive holds on keys (e.g. a hash of an email), shared by every worker process of a destination
 * (Redis-backed in production): two calls that must not overlap for one key take it first.
 */
export interface KeyLocks {
  /**
   * Takes each key nobody else holds; never waits. The keys stay held until `release` while this process
   * lives (the lease renews itself); a holder that dies frees them within `ttlMs`.
   */
  tryAcquire(keys: string[], ttlMs: number): Promise<KeyLease>;
}

/** What a destination is given besides its own settings. */
export interface DestinationContext {
  logger: Logger;
  /** Fills CRM-required fields a lead lacks (`defaults.placeholder`). */
  placeholder: string;
  /** A rolling-window budget scoped to this destination (`name` separates several budgets of one destination). */
  rollingQuota(name: string, limit: number, windowMs: number): RollingQuota;
  /**
   * Key locks scoped to this destination (`name` separates several sets), shared by every worker process.
   * Default when absent: held in this process only (`MemoryKeyLocks`).
   */
  keyLocks?(name: string): KeyLocks;
  /** The egress proxy (`network.proxy`); default: the HTTPS_PROXY / HTTP_PROXY / NO_PROXY environment. */
  network?: NetworkSettings;
}

/** A successful delivery; `remoteId` is the record's id at the destination when it tells us. */
export interface Delivered {
  remoteId?: string;
  /**
   * What was changed to make the lead fit, e.g. a value truncated to the field's length or a field
   * left out; recorded on the lead's timeline with the delivery.
   */
  warnings?: string[];
}

/** One lead's result inside a batch call: delivered, or its own classified error. */
export type BatchItemResult = ({ ok: true } & Delivered) | { ok: false; error: DeliveryError };

export interface CheckResult {
  ok: boolean;
  /** What was proven, or what failed. */
  message: string;
  /** What to fix, when it failed. */
  remediation?: string;
  /** Setup that works today but will cost leads or duplicate them (e.g. no external-ID field): shown even when `ok`. */
  warnings?: string[];
}

/** Per-call options a worker passes to a destination. */
export interface DeliverOptions {
  /** Aborted when the worker must stop (its shutdown deadline): the call should give up at once. */
  signal?: AbortSignal;
}

/**
 * A live destination. `deliver` throws a `DeliveryError` subclass (`RetryableError`,
 * `ThrottledError`, `PayloadValidationError`, `InvalidConfigurationError`) to say how it failed;
 * anything else it throws counts as transient.
 */
export interface DestinationClient {
  deliver(lead: Lead, options?: DeliverOptions): Promise<Delivered>;
  /**
   * Delivers several leads in one call where the API has batches. Throws when the whole call
   * failed; otherwise one result per lead, in order.
   */
  deliverBatch?(leads: Lead[], options?: DeliverOptions): Promise<BatchItemResult[]>;
  /** Proves credentials and reachability without creating a lead. */
  check(): Promise<CheckResult>;
  close?(): Promise<void>;
}

export interface BatchingOptions {
  /** Most leads in one call. */
  maxSize: number;
  /** Longest a lead waits for a batch to fill, in ms. */
  maxWaitMs: number;
  /** Leads with different keys never share a batch (Azure Table: one partition per transaction). */
  key?(lead: Lead): string;
}

/** Defaults a type applies when the config does not set them. */
export interface DestinationDefaults {
  concurrency: number;
  rateLimit?: { max: number; perMs: number };
}

/**
 * One destination type: its settings schema (merged into the config schema), defaults and factory.
 * Adding a type = one folder exporting one of these + one line in `registry.ts`.
 */
export interface DestinationDefinition<S extends z.ZodObject = z.ZodObject> {
  type: string;
  /** Human name for docs and the dashboard. */
  title: string;
  /** The type-specific keys (docs/configuration.md → Per type); common keys are added by the config package. */
  settings: S;
  /** Rules across keys that a plain object schema cannot say (e.g. `operation: push` needs `programName`). */
  refine?(settings: z.output<S> & CommonDestinationSettings, report: (path: string[], message: string) => void): void;
  /** Every URL the destination will call, so config can require https (or loopback / `allowInsecure`). */
  outboundUrls?(settings: z.output<S> & CommonDestinationSettings): { path: string[]; url: string }[];
  defaults: DestinationDefaults;
  /** Batching where the API has it, derived from settings. */
  batching?(settings: z.output<S> & CommonDestinationSettings): BatchingOptions | undefined;
  /**
   * Builds the client. Asynchronous so each type loads its API library (MSAL, jsforce, the Azure
   * SDK…) only when a destination of that type is configured: a webhook-only worker stays small.
   */
  create(settings: z.output<S> & CommonDestinationSettings, ctx: DestinationContext): Promise<DestinationClient>;
}

export function defineDestination<S extends z.ZodObject>(def: DestinationDefinition<S>): DestinationDefinition<S> {
  return def;
}
