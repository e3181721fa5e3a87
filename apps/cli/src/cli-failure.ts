import { ErrorCodes } from '@leadrelay/core';

/** A failure the CLI explains and exits 1 for (README: CLI: exit 1 on a failure it explains, 2 on bad usage). */
export class CliFailure extends Error {
  readonly code = ErrorCodes.CLI_FAILURE;
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliFailure';
  }
}
