import { ErrorCodes } from '@leadrelay/core';

/** The ops server refuses to run without a password: it can replay, purge and pause. */
export class OpsPasswordMissingError extends Error {
  readonly code = ErrorCodes.OPS_PASSWORD_MISSING;
  constructor() {
    super('ops.password is not set: the ops server refuses to start without it. Set ops.password in leadrelay.yaml '
      + '(for example `password: ${OPS_PASSWORD}` and export OPS_PASSWORD, at least 8 characters); sign in as ops.username (default "ops").');
    this.name = 'OpsPasswordMissingError';
  }
}
