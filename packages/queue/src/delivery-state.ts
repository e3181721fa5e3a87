import type { Lead, LeadWarning, SerializedDeliveryError } from '@leadrelay/core';

/** `deliveries.<id>.state` of `GET /v1/leads/{id}` (README: Intake HTTP API). */
export type DeliveryState = 'queued' | 'retrying' | 'delayed' | 'delivered' | 'dead' | 'skipped' | 'paused';

/** What LeadRelay remembers of one lead at one destination. */
export interface DeliveryRecord {
  state: DeliveryState;
  attempts: number;
  lastError?: string;
  remediation?: string;
  remoteId?: string;
  deliveredAt?: string;
  nextAttemptAt?: string;
}

/** One attempt in a lead's timeline. */
export interface AttemptEntry {
  destination: string;
  attempt: number;
  at: string;
  /** The same words as the `leadrelay_deliveries_total{outcome}` metric and the log lines (older entries may say `retrying`). */
  outcome: 'delivered' | 'retried' | 'throttled' | 'dead' | 'paused';
  durationMs: number;
  error?: string;
  code?: string;
  /** What the destination changed to make the lead fit (a truncated value, a field left out). */
  warnings?: string[];
}

/** `GET /v1/leads/{id}` body (README: Intake HTTP API), plus the attempt timeline. */
export interface LeadStatus {
  id: string;
  receivedAt: string;
  testLead: boolean;
  deliveries: Record<string, DeliveryRecord>;
  /**
   * Every arrival of this customer action (see `dedupe` in the config), first the lead itself, then each
   * later one merged into it (its own id, where from, when); absent when it arrived only once.
   */
  seenBy?: LeadSighting[];
  /** What intake changed to accept the lead (a default, a truncated value); absent when nothing. */
  warnings?: LeadWarning[];
  /** Set once the lead's personal data was erased (`leadrelay erase`): what is left is a non-personal tombstone. */
  erasedAt?: string;
  timeline: AttemptEntry[];
}

/** One arrival of a lead: under its own id, from where (`webhook`, `<source type>:<source id>`, `cli`), when. */
export interface LeadSighting {
  leadId: string;
  origin: string;
  at: string;
}

/** Data of one BullMQ job: the lead travels with it so a worker needs nothing else. */
export interface DeliveryJobData {
  lead: Lead;
  /** When this delivery was first throttled (epoch ms): its throttling waits are bounded by retry.maxThrottleWait from then. */
  throttledSince?: number;
  /** Every failed attempt, newest last (kept for the dead-letter view). */
  errors?: (SerializedDeliveryError & { at: string; attempt: number })[];
  /**
   * W3C trace context of the intake request that queued it (README: Operations → Traces), when tracing was on:
   * each delivery attempt's span is a child of that request's span.
   */
  traceparent?: string;
  tracestate?: string;
}

/** The trace context a job carries (DeliveryJobData's `traceparent` and `tracestate`). */
export type JobTrace = Pick<DeliveryJobData, 'traceparent' | 'tracestate'>;

/** A dead-lettered delivery, as `dlq list` shows it (README: CLI). */
export interface DeadLetter {
  leadId: string;
  destination: string;
  attempts: number;
  lastError: string;
  remediation: string;
  failedAt: string;
  errors: NonNullable<DeliveryJobData['errors']>;
  lead: Lead;
}

/**
 * A destination's state: `paused` (no delivery until resumed), `throttled` (waiting out the
 * destination's limit), `failing` (most of its latest attempts failed, though it is not paused),
 * `running`.
 */
export type DestinationState = 'running' | 'failing' | 'paused' | 'throttled';

/** One destination's line in `stats` (README: CLI). */
export interface DestinationStats {
  destination: string;
  type: string;
  state: DestinationState;
  waiting: number;
  active: number;
  /** Of `active`: jobs whose worker is gone (its lock expired) and that BullMQ's stalled check will move back to waiting. */
  stalled: number;
  delayed: number;
  delivered: number;
  dead: number;
  /** The last error, only while it is current: no delivery succeeded after it. */
  lastError?: string;
  /** ISO-8601 time of that error. */
  lastErrorAt?: string;
  /** LeadRelay's error code of that error (LR_…), and the destination's own when it gave one. */
  lastErrorCode?: string;
  /** What to do now, for the state the destination is in (a pause, a current error); absent when nothing is wrong. */
  remediation?: string;
  pausedReason?: string;
  /** `operator` (pause command, dashboard) or `configuration` (LeadRelay, after a configuration failure). */
  pausedBy?: 'operator' | 'configuration';
  pausedAt?: string;
  throttledUntil?: string;
  /** ISO-8601 time of the last delivered attempt. */
  lastSuccessAt?: string;
  deliveredLastHour: number;
  deliveredLastDay: number;
  deadLastHour: number;
  deadLastDay: number;
  /** Failed attempts (retried or dead) in the last hour / 24 hours. */
  failedAttemptsLastHour: number;
  failedAttemptsLastDay: number;
  /** Delivered / (delivered + failed attempts), 0..1; absent when there was no attempt in the window. */
  successRateLastHour?: number;
  successRateLastDay?: number;
  /** Hourly delivered and failed-attempt counts, oldest first, for the last 24 hours (the current hour last). */
  hourly: { hour: string; delivered: number; failed: number }[];
}
