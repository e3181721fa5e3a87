import { TableClient } from '@azure/data-tables';
import type { ResolvedTableSource } from '@leadrelay/config';
import type { Lead } from '@leadrelay/core';
import type { PullSource, SourcePage } from './pull-source.js';
import type { ReportedLead } from './source-report.js';
import { SourceAuthError } from './source-auth-error.js';
import type { Watermark } from './source-state.js';
import { normaliseTimestamp } from './source-timestamps.js';
import { entityToLead, type MarketplaceLeadEntity } from './table-entity-mapping.js';

export interface TableSourceOptions {
  /**
   * Rows newer than now minus this are left for the next poll: a row being written while we read
   * could otherwise land behind a watermark we already committed. Default 5 s.
   */
  settleMs?: number;
}

/** Row key inside a watermark's ids: both keys, as a row is unique by the pair. */
const rowId = (e: Pick<MarketplaceLeadEntity, 'partitionKey' | 'rowKey'>) => `${e.partitionKey}\u0000${e.rowKey}`;

/**
 * Tails a MarketplaceLeads table by `Timestamp`, as Microsoft's own samples do. The service returns
 * rows in key order, not time order, so a poll reads every row in [watermark, now - settle), sorts
 * them by time and hands them out in pages; each page's watermark is the newest time in it plus the
 * rows at that time.
 */
export class TableSource implements PullSource {
  private readonly client: TableClient;
  private readonly settleMs: number;

  constructor(private readonly settings: ResolvedTableSource, options: TableSourceOptions = {}) {
    const insecure = settings.allowInsecure || /TableEndpoint=http:\/\/(127\.|localhost|\[::1\])/i.test(settings.connectionString);
    this.client = TableClient.fromConnectionString(settings.connectionString, settings.table, { allowInsecureConnection: insecure, retryOptions: { maxRetries: 2 } });
    this.settleMs = options.settleMs ?? 5000;
  }

  initialWatermark(start: string, now: Date): Watermark | null {
    if (start === 'all') return null;
    return { ts: normaliseTimestamp(start === 'now' ? now : new Date(start)), ids: [] };
  }

  async *pages(from: Watermark | null, now: Date): AsyncIterable<SourcePage> {
    const upper = normaliseTimestamp(new Date(now.getTime() - this.settleMs));
    if (from?.ts && from.ts >= upper) return;
    const filter = [from?.ts ? `Timestamp ge datetime'${from.ts}'` : '', `Timestamp lt datetime'${upper}'`].filter(Boolean).join(' and ');
    const seen = new Set(from?.ids ?? []);
    const rows: (MarketplaceLeadEntity & { ts: string })[] = [];
    try {
      for await (const e of this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
        const entity = e as unknown as MarketplaceLeadEntity;
        if (!entity.timestamp) continue;
        const ts = normaliseTimestamp(entity.timestamp);
        // The filter is inclusive at the watermark (equal times are never skipped); rows already taken there are.
        if (from?.ts && (ts < from.ts || (ts === from.ts && seen.has(rowId(entity))))) continue;
        if (ts >= upper) continue;
        rows.push({ ...entity, ts });
      }
    } catch (e) {
      throw classifyTableError(e, this.settings.table);
    }
    rows.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : rowId(a) < rowId(b) ? -1 : 1));
    let last: Watermark | null = from;
    for (let i = 0; i < rows.length; i += this.settings.pageSize) {
      const chunk = rows.slice(i, i + this.settings.pageSize);
      const leads: Lead[] = [];
      const invalid: SourcePage['invalid'] = [];
      for (const row of chunk) {
        const r = entityToLead(row);
        if (r.ok) leads.push(r.lead);
        else invalid.push({ id: row.rowKey, problem: r.problem });
      }
      const ts = chunk.at(-1)!.ts;
      const ids = chunk.filter((r) => r.ts === ts).map(rowId);
      last = { ts, ids: last && last.ts === ts ? [...last.ids, ...ids] : ids };
      const done = i + this.settings.pageSize >= rows.length;
      yield { leads, invalid, watermark: last, caughtUpTo: done ? upper : ts };
    }
    if (rows.length === 0) yield { leads: [], invalid: [], watermark: from ?? { ts: '', ids: [] }, caughtUpTo: upper };
  }

  async *report(since: Date): AsyncIterable<ReportedLead> {
    try {
      for await (const e of this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter: `Timestamp ge datetime'${normaliseTimestamp(since)}'` } })) {
        const entity = e as unknown as MarketplaceLeadEntity;
        const r = entityToLead(entity);
        const at = normaliseTimestamp(entity.timestamp ?? since);
        yield r.ok ? { key: entity.rowKey, leadId: r.lead.id, at, offer: r.lead.offer, lead: r.lead } : { key: entity.rowKey, at, problem: r.problem };
      }
    } catch (e) {
      throw classifyTableError(e, this.settings.table);
    }
  }
}

/** Auth failures (bad key, unknown account, no access) pause the source; a missing table is also something to fix. */
function classifyTableError(e: unknown, table: string): Error {
  const err = e as { statusCode?: number; message?: string; details?: { errorCode?: string } };
  const code = err.details?.errorCode;
  if (err.statusCode === 403 || err.statusCode === 401 || code === 'AuthenticationFailed' || code === 'AuthorizationFailure') {
    return new SourceAuthError(`the storage account refused our credentials (${code ?? err.statusCode})`,
      'Check the source\'s connectionString (account name and key, or SAS with read and list rights on the table); the source resumes on its own once the configuration changes, or run `leadrelay resume <source-id>`.');
  }
  if (err.statusCode === 404 && (code === 'TableNotFound' || code === 'ResourceNotFound')) {
    return new SourceAuthError(`table '${table}' does not exist in this storage account`,
      "Check the source's table (Microsoft writes MarketplaceLeads) and connectionString; then `leadrelay resume <source-id>`.");
  }
  return e instanceof Error ? e : new Error(String(e));
}
