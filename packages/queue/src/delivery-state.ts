import type { Lead, LeadWarning, SerializedDeliveryError } from '@leadrelay/core';

/** SPEC §3 `deliveries.<id>.state`. */
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
  outcome: 'delivered' | 'retrying' | 'throttled' | 'dead' | 'paused';
  durationMs: number;
  error?: string;
  code?: string;
  /** What the destination changed to make the lead fit (a truncated value, a field left out). */
  warnings?: string[];
}

/** `GET /v1/leads/{id}` body (SPEC §3), plus the attempt timeline. */
export interface LeadStatus {
  id: string;
  receivedAt: string;
  testLead: boolean;
  deliveries: Record<string, DeliveryRecord>;
  /** What intake changed to accept the lead (a default, a truncated value); absent when nothing. */
  warnings?: LeadWarning[];
  timeline: AttemptEntry[];
}

/** Data of one BullMQ job: the lead travels with it so a worker needs nothing else. */
export interface DeliveryJobData {
  lead: Lead;
  /** Milliseconds this delivery has waited for throttling so far (bounded by retry.maxThrottleWait). */
  throttledMs?: number;
  /** Every failed attempt, newest last (kept for the dead-letter view). */
  errors?: (SerializedDeliveryError & { at: string; attempt: number })[];
}

/** A dead-lettered delivery, as `dlq list` shows it (SPEC §1). */
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

/** One destination's line in `stats` (SPEC §1). */
export interface DestinationStats {
  destination: string;
  type: string;
  state: 'running' | 'paused' | 'throttled';
  waiting: number;
  active: number;
  delayed: number;
  delivered: number;
  dead: number;
  lastError?: string;
  remediation?: string;
  pausedReason?: string;
  throttledUntil?: string;
  deliveredLastHour: number;
  deliveredLastDay: number;
  deadLastHour: number;
  deadLastDay: number;
}
