import { createHash } from 'node:crypto';
import { LEAD_ID_PATTERN, parseCanonical, parseLeadSource, type Lead } from '@leadrelay/core';

/** An entity as Microsoft's Azure Table lead destination writes it (every property a string). */
export interface MarketplaceLeadEntity {
  partitionKey: string;
  rowKey: string;
  timestamp?: string;
  LeadSource?: unknown;
  ActionCode?: unknown;
  OfferDisplayName?: unknown;
  Description?: unknown;
  CreatedTime?: unknown;
  CustomerInfo?: unknown;
  [key: string]: unknown;
}

const str = (v: unknown): string | undefined => {
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
};

/** CustomerInfo is JSON text `{"FirstName":…}`; property names are matched case-insensitively. */
function customerOf(value: unknown): Record<string, string | undefined> {
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      return {};
    }
  }
  if (!parsed || typeof parsed !== 'object') return {};
  const lower = Object.fromEntries(Object.entries(parsed as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), str(v)]));
  return {
    firstName: lower.firstname, lastName: lower.lastname, email: lower.email, phone: lower.phone,
    country: lower.country, company: lower.company, title: lower.title,
  };
}

/** A lead id from the RowKey (Microsoft's unique key) when it is a valid id, else a stable hash of both keys. */
export function tableLeadId(entity: Pick<MarketplaceLeadEntity, 'partitionKey' | 'rowKey'>): string {
  if (LEAD_ID_PATTERN.test(entity.rowKey)) return entity.rowKey;
  return `tbl-${createHash('sha256').update(`${entity.partitionKey}\u0000${entity.rowKey}`).digest('hex').slice(0, 40)}`;
}

/**
 * The canonical lead of a MarketplaceLeads row. `LeadSource` is `Source-Action|Offer` in the rows
 * Microsoft writes; when it is only a source, `ActionCode` gives the action and the offer is unknown.
 */
export function entityToLead(entity: MarketplaceLeadEntity): { ok: true; lead: Lead } | { ok: false; problem: string } {
  const leadSource = str(entity.LeadSource);
  const parsed = leadSource ? parseLeadSource(leadSource) : undefined;
  const created = str(entity.CreatedTime);
  const createdAt = created && !Number.isNaN(Date.parse(created)) ? new Date(created).toISOString() : undefined;
  const body = {
    id: tableLeadId(entity),
    source: parsed?.source ?? leadSource ?? 'AzureTable',
    action: str(entity.ActionCode) ?? parsed?.action ?? 'unknown',
    offer: parsed?.offer ?? 'unknown',
    offerTitle: str(entity.OfferDisplayName),
    customer: Object.fromEntries(Object.entries(customerOf(entity.CustomerInfo)).filter(([, v]) => v !== undefined)),
    description: str(entity.Description),
    ...(createdAt ? { createdAt } : {}),
    extra: { tablePartitionKey: entity.partitionKey.slice(0, 4096), tableRowKey: entity.rowKey.slice(0, 4096) },
  };
  const r = parseCanonical(body, createdAt ? {} : { now: entity.timestamp ? new Date(entity.timestamp) : new Date() });
  if (!r.ok) return { ok: false, problem: r.errors.map((e) => `${e.path}: ${e.message}`).join('; ') };
  return { ok: true, lead: r.lead };
}
