import type { DeliveryErrorKind } from '@leadrelay/core';

/** What an alert is about; the same string is the log event's `alert` field and the webhook body's `type`. */
export type AlertType = 'destination-paused' | 'destination-resumed' | 'destination-failing' | 'destination-recovered'
  | 'lead-dead-lettered' | 'leads-dead-lettered' | 'queue-waiting-too-long' | 'queue-recovered'
  | 'source-paused' | 'source-failing' | 'source-recovered' | 'reconciliation-gap';

/** A destination stopped delivering: a configuration failure (or an operator) paused it; its leads keep queueing. */
export interface DestinationPausedData {
  destination: string;
  destinationType: string;
  /** The destination's own message (secrets redacted). */
  reason: string;
  /** What a person should fix, then `leadrelay resume <id>` (or a config change) continues. */
  remediation: string;
}

/**
 * A destination that was paused or failing (and alerted) delivers again: running, and a lead delivered
 * since the alert. Once per episode across every worker.
 */
export interface DestinationRecoveredData {
  destination: string;
  destinationType: string;
  /** ISO-8601: when the `destination-paused` (or `destination-failing`) alert was raised. */
  downSince: string;
  /** From that alert to the first delivery after it. */
  downForMs: number;
  /** ISO-8601: the delivery that shows it works again. */
  lastSuccessAt: string;
  /** Which episode ended: a pause or a failing streak. Absent only in alerts of older versions (which always meant `paused`). */
  after?: 'paused' | 'failing';
}

/**
 * A destination paused with a `destination-paused` alert is no longer paused (an operator's `leadrelay resume`,
 * Resume on the dashboard or ops API, or a worker with a changed configuration). Once per pause, as soon as a
 * check sees it, whether or not a lead has been delivered yet (`destination-recovered` says that).
 */
export interface DestinationResumedData {
  destination: string;
  destinationType: string;
  /** ISO-8601: when the destination was paused. */
  pausedSince: string;
  /** ISO-8601: when the resume happened (a configuration change), or when a check first saw it resumed (at most one check interval late). */
  resumedAt: string;
  /** `configuration-change`: a worker running a changed configuration lifted it; `operator`: a resume command, the dashboard or the ops API. */
  how?: 'operator' | 'configuration-change';
}

/**
 * Most of a destination's latest attempts failed (the `failing` state of `leadrelay stats` and the dashboard)
 * although it is not paused: LeadRelay keeps retrying, but leads are late and may end dead-lettered. Once per episode.
 */
export interface DestinationFailingData {
  destination: string;
  destinationType: string;
  /** Of the latest attempts looked at (at most 10), how many failed. */
  recentFailures: number;
  recentAttempts: number;
  /** recentFailures / recentAttempts, 0…1. */
  failureRatio: number;
  /** The destination's last error: secrets redacted, the lead's customer data replaced (the worker stores it so). */
  lastError?: string;
  lastErrorCode?: string;
  lastErrorAt?: string;
  remediation: string;
}

/** A destination whose queue was `queue-waiting-too-long` keeps up again: its oldest waiting lead is under the threshold. Once per episode. */
export interface QueueRecoveredData {
  destination: string;
  destinationType: string;
  /** ISO-8601: when the `queue-waiting-too-long` alert was raised. */
  slowSince: string;
  /** Leads waiting now. */
  waiting: number;
  thresholdMs: number;
}

/** One lead will not be delivered to one destination until someone replays it. */
export interface LeadDeadLetteredData {
  destination: string;
  destinationType: string;
  leadId: string;
  /** Attempts made, when LeadRelay could read them. */
  attempts?: number;
  /** The last error, with customer data and secrets removed. */
  error: string;
  /** LeadRelay's error code (LR_…). */
  code: string;
  /** The destination's own error code, when it gave one. */
  destinationCode?: string;
  /** HTTP status of the failed call, when there was one. */
  status?: number;
  kind: DeliveryErrorKind;
  remediation: string;
}

/**
 * Further dead letters at one destination inside its grouping window (`deadLetterGroupWindowMs`, 60 s): the
 * window's first dead letter had its own `lead-dead-lettered` alert, these are summed up once the window ends.
 * Lead ids and codes only, never customer data.
 */
export interface LeadsDeadLetteredData {
  destination: string;
  destinationType: string;
  /** Dead letters after the window's first one. */
  count: number;
  /** ISO-8601: the window's start (the first dead letter, alerted on its own). */
  since: string;
  /** ISO-8601: the window's end. */
  until: string;
  windowMs: number;
  /** How many of them had each LeadRelay error code (LR_…). */
  codes: Record<string, number>;
  /** The first of them (at most 20). */
  examples: { leadId: string; code: string }[];
  remediation: string;
}

/** Leads sit in a destination's queue longer than `alerts.queueWaitThreshold`: no worker, or too slow a destination. */
export interface QueueWaitingTooLongData {
  destination: string;
  destinationType: string;
  /** `throttled` when the destination asked LeadRelay to slow down. */
  state: 'running' | 'throttled';
  /** The lead that has waited longest. */
  oldestLeadId: string;
  /** ISO-8601: since when it has been waiting (see QueueWaitMonitor for how that is estimated). */
  waitingSince: string;
  waitedMs: number;
  thresholdMs: number;
  /** Leads waiting at this destination right now. */
  waiting: number;
  /** The destination's last error, when it has one (secrets redacted). */
  lastError?: string;
}

/** A pull source stopped polling until a person acts (a refused key, a Partner Center sign-in that expired). */
export interface SourcePausedData {
  source: string;
  sourceType: string;
  reason: string;
  /** What to do, e.g. run `leadrelay login <source-id>` again. */
  remediation: string;
}

/**
 * A pull source's polls failed several times in a row (SourceService `failingAfter`, default 3) without it being
 * paused: a storage account or Partner Center that is down or unreachable. Once per streak of failures.
 */
export interface SourceFailingData {
  source: string;
  sourceType: string;
  /** Failed polls in a row so far. */
  failures: number;
  /** ISO-8601: the first failure of the streak. */
  failingSince: string;
  /** The last poll's error (secrets redacted). */
  lastError: string;
  remediation: string;
}

/** A source that raised `source-failing` polled successfully again. Once per streak. */
export interface SourceRecoveredData {
  source: string;
  sourceType: string;
  failingSince: string;
  /** Failed polls in a row before this success. */
  failures: number;
  /** ISO-8601: the successful poll. */
  recoveredAt: string;
}

/** The scheduled reconciliation found leads a source holds that were not accepted or not delivered. */
export interface ReconciliationGapData {
  /** ISO-8601 start of the period compared. */
  since: string;
  missing: number;
  /** The first missing leads (at most 20), ids and reasons only. */
  examples: { source: string; key: string; leadId?: string; destination?: string; reason: string }[];
}

export interface AlertDataByType {
  'destination-paused': DestinationPausedData;
  'destination-resumed': DestinationResumedData;
  'destination-failing': DestinationFailingData;
  'destination-recovered': DestinationRecoveredData;
  'lead-dead-lettered': LeadDeadLetteredData;
  'leads-dead-lettered': LeadsDeadLetteredData;
  'queue-waiting-too-long': QueueWaitingTooLongData;
  'queue-recovered': QueueRecoveredData;
  'source-paused': SourcePausedData;
  'source-failing': SourceFailingData;
  'source-recovered': SourceRecoveredData;
  'reconciliation-gap': ReconciliationGapData;
}

/**
 * The JSON body of an alert webhook (Standard Webhooks' recommended shape):
 * `{type, timestamp, data}`, signed with `alerts.signingSecret` in `webhook-signature`.
 */
export interface AlertPayload<T extends AlertType = AlertType> {
  type: T;
  /** ISO-8601 time the alert was raised. */
  timestamp: string;
  data: AlertDataByType[T];
}

/** Log level of each alert's log event. */
export const ALERT_LEVEL: Record<AlertType, 'info' | 'warn' | 'error'> = {
  'destination-paused': 'error',
  'destination-resumed': 'info',
  'destination-failing': 'warn',
  'destination-recovered': 'info',
  'lead-dead-lettered': 'error',
  'leads-dead-lettered': 'error',
  'queue-waiting-too-long': 'warn',
  'queue-recovered': 'info',
  'source-paused': 'error',
  'source-failing': 'warn',
  'source-recovered': 'info',
  'reconciliation-gap': 'error',
};
