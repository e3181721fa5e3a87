/**
 * Why a poll failed. Auth failures pause the source (polling again cannot help until a person acts);
 * everything else is retried by the poll job.
 */
export class SourceAuthError extends Error {
  readonly code = 'LR_SOURCE_AUTH';
  constructor(message: string, readonly remediation: string) {
    super(message);
    this.name = 'SourceAuthError';
  }
}
