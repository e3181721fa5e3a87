import type { ResolvedSource } from '@leadrelay/config';
import type { PullSource } from './pull-source.js';

/** The reader of a configured source, by type; each type loads its client library only when used. */
export async function createPullSource(s: ResolvedSource): Promise<PullSource> {
  if (s.type === 'azure-table') {
    const { TableSource } = await import('./table-source.js');
    return new TableSource(s);
  }
  throw new Error(`source type '${s.type}' is not available yet`);
}
