import { destinationMatches } from '@leadrelay/config';
import type { Relay } from '@leadrelay/queue';
import type { PullSourceFactory } from './pull-source.js';
import { sourceState } from './source-health.js';

export interface MissingLead {
  source: string;
  /** The source's own key of it (RowKey, referral id). */
  key: string;
  leadId?: string;
  destination?: string;
  reason: string;
}

export interface SourceReconciliation {
  source: string;
  type: string;
  /** Leads the source reports for the period, by UTC day and offer. */
  reported: number;
  byDay: Record<string, Record<string, number>>;
  accepted: number;
  /** Not read yet (newer than the watermark) or filtered by the source's match: expected, not a gap. */
  pending: number;
  destinations: Record<string, { delivered: number; waiting: number; dead: number; skipped: number }>;
}

export interface ReconcileReport {
  since: string;
  at: string;
  sources: SourceReconciliation[];
  /** Every lead a source reports that did not reach a destination it should have, with the reason. */
  missing: MissingLead[];
  gap: boolean;
}

/**
 * Compares what each source reports for a period with what was accepted and delivered: a lead the
 * source holds, that was read (older than the watermark) and that its match takes, must be accepted
 * and delivered or on its way to every destination; anything else is listed with its reason.
 */
export async function reconcile(relay: Relay, createSource: PullSourceFactory, since: Date, now = new Date()): Promise<ReconcileReport> {
  const missing: MissingLead[] = [];
  const sources: SourceReconciliation[] = [];
  for (const s of relay.config.sources) {
    const reader = await createSource(s, relay);
    if (!reader.report) continue;
    const health = await sourceState(relay, s.id).health(s.type, s.enabled);
    const readUpTo = health.caughtUpTo ?? health.watermark?.ts ?? '';
    const r: SourceReconciliation = { source: s.id, type: s.type, reported: 0, byDay: {}, accepted: 0, pending: 0, destinations: {} };
    try {
      for await (const item of reader.report(since)) {
        r.reported++;
        const day = item.at.slice(0, 10);
        const offer = item.offer ?? 'unknown';
        r.byDay[day] ??= {};
        r.byDay[day][offer] = (r.byDay[day][offer] ?? 0) + 1;
        if (!item.leadId) {
          missing.push({ source: s.id, key: item.key, reason: `not a lead: ${item.problem ?? 'unreadable'}` });
          continue;
        }
        // A lead the source's own match filters out (MSFT_TEST with testLeads: false, say) is never accepted: expected, not a gap.
        if (item.lead && !destinationMatches({ enabled: true, match: s.match }, item.lead)) { r.pending++; continue; }
        const lead = await relay.leads.getLead(item.leadId);
        const status = lead ? await relay.status(item.leadId) : undefined;
        if (!status) {
          if (!readUpTo || item.at >= readUpTo) { r.pending++; continue; }
          missing.push({ source: s.id, key: item.key, leadId: item.leadId, reason: health.state === 'paused'
            ? `not accepted: the source is paused (${health.pause?.reason ?? ''})`
            : 'not accepted although older than the watermark (expired past leads.retention, erased, or lost)' });
          continue;
        }
        if (!destinationMatches({ enabled: true, match: s.match }, lead!)) { r.pending++; continue; }
        r.accepted++;
        for (const [d, rec] of Object.entries(status.deliveries)) {
          const c = (r.destinations[d] ??= { delivered: 0, waiting: 0, dead: 0, skipped: 0 });
          if (rec.state === 'delivered') c.delivered++;
          else if (rec.state === 'skipped') c.skipped++;
          else if (rec.state === 'dead') {
            c.dead++;
            missing.push({ source: s.id, key: item.key, leadId: item.leadId, destination: d, reason: `dead-lettered: ${rec.lastError ?? 'unknown error'}${rec.remediation ? ` (${rec.remediation})` : ''}` });
          } else c.waiting++;
        }
      }
    } finally {
      await reader.close?.();
    }
    sources.push(r);
  }
  return { since: since.toISOString(), at: now.toISOString(), sources, missing, gap: missing.length > 0 };
}
