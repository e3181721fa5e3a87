/**
 * Every stable error code LeadRelay gives an error (its `code` property, and `code` in stored
 * errors, timelines and alerts). Scripts, the CLI and the ops server compare codes from here
 * instead of matching messages; a code, once published, keeps its meaning.
 */
export const ErrorCodes = {
  /** Network error, timeout, 5xx: retried with backoff. */
  TRANSIENT: 'LR_TRANSIENT',
  /** The destination asked to wait (429/503 Retry-After, quota): the destination is held. */
  THROTTLED: 'LR_THROTTLED',
  /** The destination rejected this lead for good: dead-lettered at once. */
  PAYLOAD_REJECTED: 'LR_PAYLOAD_REJECTED',
  /** Settings, permissions or setup are wrong: the destination is paused. */
  CONFIGURATION: 'LR_CONFIGURATION',
  /** Credentials are wrong: the destination is paused. */
  AUTHENTICATION: 'LR_AUTHENTICATION',
  /** A delivery was interrupted more often than `maxStalledCount` (its workers died or stalled while sending it): dead-lettered. */
  STALLED_LIMIT: 'LR_STALLED_LIMIT',
  /** A worker shut down mid-call: the delivery went back to waiting without using an attempt. */
  SHUTDOWN_ABORTED: 'LR_SHUTDOWN_ABORTED',
  /** A worker's configuration of a destination failed and a worker with another configuration resumed it: this worker takes none of its jobs. */
  CONFIG_SUPERSEDED: 'LR_CONFIG_SUPERSEDED',
  /** `intake.durability` asks for what the Redis server cannot give (e.g. aof without appendfsync always on Redis < 7.2): intake does not start. */
  DURABILITY_UNSUPPORTED: 'LR_DURABILITY_UNSUPPORTED',
  /** A lead was stored but not acknowledged as `intake.durability` asks in time: intake answered 503, the lead is kept. */
  NOT_DURABLE: 'LR_NOT_DURABLE',
  /** A queue in Redis holds leads of a destination that is no longer in the config (removed or renamed). */
  ORPHAN_QUEUE: 'LR_ORPHAN_QUEUE',
  /** A command named a destination the configuration does not have. */
  UNKNOWN_DESTINATION: 'LR_UNKNOWN_DESTINATION',
  /** leadrelay.yaml is invalid (with file:line:col). */
  CONFIG_INVALID: 'LR_CONFIG_INVALID',
  /** Redis did not answer in time. */
  REDIS_TIMEOUT: 'LR_REDIS_TIMEOUT',
  /** The ops server was started without `ops.password`. */
  OPS_PASSWORD_MISSING: 'LR_OPS_PASSWORD_MISSING',
  /** A CLI command failed in a way it explains itself. */
  CLI_FAILURE: 'LR_CLI_FAILURE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];
