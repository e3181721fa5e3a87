import type { ResolvedReferralsSource } from '@leadrelay/config';
import type { Lead } from '@leadrelay/core';
import type { PartnerCenterAuth } from './partner-center-auth.js';
import { PartnerCenterClient, type PartnerCenterClientOptions } from './partner-center-client.js';
import type { PullSource, SourcePage } from './pull-source.js';
import { referralToLead, referralWanted, type ReferralRecord } from './referral-mapping.js';
import type { ReportedLead } from './source-report.js';
import type { Watermark } from './source-state.js';
import { normaliseTimestamp, timestampMs } from './source-timestamps.js';

export interface ReferralsSourceOptions extends PartnerCenterClientOptions {
  /**
   * Referrals updated less than this long ago are left for the next poll, so one being written while
   * we read cannot land behind a committed watermark. Default 5 s.
   */
  settleMs?: number;
}

/** OData date-time literal (the API's timestamps are millisecond ISO text). */
const odataTime = (ts: string) => new Date(timestampMs(ts)).toISOString();

/**
 * Reads Partner Center referrals updated since the watermark, oldest first (`$orderby=updatedDateTime
 * asc`). The watermark is the newest `updatedDateTime` read plus the ids at that instant; a referral
 * served twice (on adjacent pages, or again after an update) is taken once per poll and the relay's id
 * dedupe absorbs a repeat across polls.
 *
 * Each next page is a fresh query from the watermark (`updatedDateTime ge`), not `@odata.nextLink`: the
 * skiptoken is opaque and may be an offset into a result that shifts while we read — every write-back
 * PATCH moves a referral already read out of it, and an offset would then skip as many unread rows for
 * ever. nextLink is followed, as given, only when a page did not move the watermark (a page of rows all
 * at one instant), where a fresh query would return the same page.
 */
export class ReferralsSource implements PullSource {
  readonly client: PartnerCenterClient;
  private readonly settleMs: number;

  constructor(private readonly settings: ResolvedReferralsSource, readonly auth: PartnerCenterAuth, options: ReferralsSourceOptions = {}) {
    this.client = new PartnerCenterClient(settings, auth, options);
    this.settleMs = options.settleMs ?? 5000;
  }

  initialWatermark(start: string, now: Date): Watermark | null {
    if (start === 'all') return null;
    return { ts: normaliseTimestamp(start === 'now' ? now : new Date(start)), ids: [] };
  }

  /** The server-side part of `filter:` (one direction or status narrows the query; lists are applied here). */
  private filter(from: Watermark | null, upper: string): string {
    const f = this.settings.filter;
    return [
      ...(f.directions.length === 1 ? [`direction eq '${f.directions[0]}'`] : []),
      ...(f.statuses?.length === 1 ? [`status eq '${f.statuses[0]}'`] : []),
      ...(from?.ts ? [`updatedDateTime ge ${odataTime(from.ts)}`] : []),
      `updatedDateTime lt ${odataTime(upper)}`,
    ].join(' and ');
  }

  async *pages(from: Watermark | null, now: Date): AsyncIterable<SourcePage> {
    const upper = normaliseTimestamp(new Date(now.getTime() - this.settleMs));
    if (from?.ts && from.ts >= upper) return;
    const startIds = new Set(from?.ids ?? []);
    const seen = new Set<string>();
    let mark: Watermark | null = from?.ts ? { ts: from.ts, ids: [...from.ids] } : null;
    let url: string | undefined = this.client.listUrl(this.filter(from, upper), this.settings.pageSize);
    // The lower bound of the query being paged: once a page moves the watermark past it, the next page is asked
    // for afresh from the watermark rather than through nextLink (see the class comment).
    let queryFrom = from?.ts ?? '';
    let yielded = false;
    while (url) {
      const page: { value: ReferralRecord[]; '@odata.nextLink'?: string } = await this.client.getPage<ReferralRecord>(url);
      const leads: Lead[] = [];
      const invalid: SourcePage['invalid'] = [];
      for (const r of page.value ?? []) {
        if (!r?.id || !r.updatedDateTime) continue;
        const ts = normaliseTimestamp(r.updatedDateTime);
        if (ts >= upper || seen.has(r.id)) continue;
        if (from?.ts && (ts < from.ts || (ts === from.ts && startIds.has(r.id)))) continue;
        seen.add(r.id);
        // Out-of-order rows (a server not sorting exactly) are still taken; the watermark only moves forward.
        if (!mark || ts > mark.ts) mark = { ts, ids: [r.id] };
        else if (ts === mark.ts) mark.ids.push(r.id);
        if (!referralWanted(r, this.settings.filter)) continue;
        const m = referralToLead(r);
        if (m.ok) leads.push(m.lead);
        else invalid.push({ id: r.id, problem: m.problem });
      }
      const nextLink = page['@odata.nextLink'];
      if (!nextLink) url = undefined;
      else if (mark && mark.ts > queryFrom) {
        url = this.client.listUrl(this.filter(mark, upper), this.settings.pageSize);
        queryFrom = mark.ts;
      } else url = nextLink;
      yielded = true;
      yield { leads, invalid, watermark: mark ?? { ts: '', ids: [] }, caughtUpTo: url ? (mark?.ts ?? '') || upper : upper };
    }
    if (!yielded) yield { leads: [], invalid: [], watermark: from ?? { ts: '', ids: [] }, caughtUpTo: upper };
  }

  async *report(since: Date): AsyncIterable<ReportedLead> {
    let url: string | undefined = this.client.listUrl(this.filter({ ts: normaliseTimestamp(since), ids: [] }, normaliseTimestamp(new Date())), this.settings.pageSize);
    const seen = new Set<string>();
    while (url) {
      const page: { value: ReferralRecord[]; '@odata.nextLink'?: string } = await this.client.getPage<ReferralRecord>(url);
      for (const r of page.value ?? []) {
        if (!r?.id || seen.has(r.id) || !referralWanted(r, this.settings.filter)) continue;
        seen.add(r.id);
        const m = referralToLead(r);
        const at = normaliseTimestamp(r.createdDateTime ?? r.updatedDateTime ?? since);
        yield m.ok ? { key: r.id, leadId: m.lead.id, at, offer: m.lead.offer, lead: m.lead } : { key: r.id, at, problem: m.problem };
      }
      url = page['@odata.nextLink'];
    }
  }
}
