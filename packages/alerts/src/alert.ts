import type { DeliveryErrorKind } from '@leadrelay/core';

/** What an alert is about; the same string is the log event's `alert` field and the webhook body's `type`. */
export type AlertType = 'destination-paused' | 'destination-recovered' | 'lead-dead-lettered' | 'queue-waiting-too-long' | 'queue-recovered'
  | 'source-paused' | 'reconciliation-gap';

/** A destination stopped delivering: a configuration failure (or an operator) paused it; its leads keep queueing. */
export interface DestinationPausedData {
  destination: string;
  destinationType: string;
  /** The destination's own message (secrets redacted). */
  reason: string;
  /** What a person should fix, then `leadrelay resume <id>` (or a config change) continues. */
  remediation: string;
}

/** A destination that was paused (and alerted) delivers again: resumed, and a lead delivered since. Once per pause. */
export interface DestinationRecoveredData {
  destination: string;
  destinationType: string;
  /** ISO-8601: when the `destination-paused` alert was raised. */
  downSince: string;
  /** From the pause alert to the first delivery after it. */
  downForMs: number;
  /** ISO-8601: the delivery that shows it works again. */
  lastSuccessAt: string;
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
  'destination-recovered': DestinationRecoveredData;
  'lead-dead-lettered': LeadDeadLetteredData;
  'queue-waiting-too-long': QueueWaitingTooLongData;
  'queue-recovered': QueueRecoveredData;
  'source-paused': SourcePausedData;
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
  'destination-recovered': 'info',
  'lead-dead-lettered': 'error',
  'queue-waiting-too-long': 'warn',
  'queue-recovered': 'info',
  'source-paused': 'error',
  'reconciliation-gap': 'error',
};
