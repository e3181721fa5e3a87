import type { ResolvedSource } from '@leadrelay/config';
import type { PullSource } from './pull-source.js';
import { SourceAuthError } from './source-auth-error.js';

/** The reader of a configured source, by type; each type loads its client library only when used. */
export async function createPullSource(s: ResolvedSource): Promise<PullSource> {
  if (s.type === 'azure-table') {
    const { TableSource } = await import('./table-source.js');
    return new TableSource(s);
  }
  // Paused with a remediation rather than failing every poll.
  throw new SourceAuthError(`source type '${s.type}' is not available in this version of LeadRelay`,
    'Receive marketplace leads with an azure-table source or the webhook intake (README: "Pull leads from Partner Center"), or disable this source.');
}
