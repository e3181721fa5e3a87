import { createHash } from 'node:crypto';
import { renderFields, type FieldValue, type Lead } from '@leadrelay/core';

/** Microsoft's HTTPS-endpoint JSON, as its HTTPS-endpoint lead-management instructions show it (intake format 2, README: Intake HTTP API). */
export interface MarketplacePayload {
  UserDetails: { FirstName: string; LastName: string; Email: string; Phone: string; Country: string; Company: string; Title: string };
  LeadSource: string;
  ActionCode: string;
  OfferTitle: string;
  Description: string;
}

/**
 * The lead as Microsoft's HTTPS endpoint would send it. `LeadSource` is only the source and the action is
 * `ActionCode` (unlike the `Source-Action|Offer` string CRMs get).
 *
 * Absent values are sent as empty strings, never omitted or null: Microsoft's schema types every property as
 * `string`, and receivers built on it (Power Automate "Parse JSON", typed bridges) fail on null or a missing
 * property; an empty string is also what LeadRelay's own intake reads back as "not provided".
 */
export function marketplacePayload(lead: Lead): MarketplacePayload {
  const c = lead.customer;
  return {
    UserDetails: {
      FirstName: c.firstName ?? '', LastName: c.lastName ?? '', Email: c.email ?? '', Phone: c.phone ?? '',
      Country: c.country ?? '', Company: c.company ?? '', Title: c.title ?? '',
    },
    LeadSource: lead.source,
    ActionCode: lead.action,
    OfferTitle: lead.offerTitle ?? '',
    Description: lead.description ?? '',
  };
}

/** LeadRelay's canonical lead JSON (what intake format 1 accepts, plus id, createdAt and testLead); absent optionals are omitted. */
export function canonicalPayload(lead: Lead): Record<string, unknown> {
  return {
    id: lead.id,
    source: lead.source,
    action: lead.action,
    offer: lead.offer,
    ...(lead.offerTitle === undefined ? {} : { offerTitle: lead.offerTitle }),
    customer: { ...lead.customer },
    ...(lead.description === undefined ? {} : { description: lead.description }),
    createdAt: lead.createdAt,
    ...(lead.extra === undefined ? {} : { extra: lead.extra }),
    testLead: lead.testLead,
  };
}

/** The request body: the chosen format with rendered `fields:` merged in as top-level properties (they win). */
export function webhookBody(format: 'marketplace' | 'canonical', lead: Lead, fields: Record<string, FieldValue> | undefined): Record<string, unknown> {
  const base: Record<string, unknown> = format === 'canonical' ? canonicalPayload(lead) : { ...marketplacePayload(lead) };
  return { ...base, ...renderFields(fields, lead) };
}

/**
 * Standard Webhooks `webhook-id`: the same for every attempt of one lead to one destination (receivers dedupe
 * on it), different per destination. Derived, so no state is needed to keep it stable across workers.
 */
export function webhookIdOf(destinationId: string, leadId: string): string {
  return `msg_${createHash('sha256').update(`${destinationId}\n${leadId}`).digest('hex').slice(0, 32)}`;
}
