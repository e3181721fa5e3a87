import { SALESFORCE_LEAD_LENGTHS } from './salesforce-mapping.js';

/** One Lead field as the describe reports it (the parts LeadRelay uses). */
export interface DescribedField {
  name: string;
  type?: string;
  length?: number;
  externalId?: boolean;
  unique?: boolean;
  createable?: boolean;
  restrictedPicklist?: boolean;
  picklistValues?: { value: string; active?: boolean }[];
}

/** What delivery needs from `GET sobjects/Lead/describe`, read once per client. */
export interface LeadDescribe {
  createable: boolean;
  fields: Map<string, DescribedField>;
  /** Text lengths by field: the org's, falling back to a new org's for fields the describe does not size. */
  lengths: Record<string, number>;
  /** A CountryCode field exists: the org has State and Country/Territory Picklists. */
  countryPicklists: boolean;
  /** Active LeadSource values when the picklist is restricted; undefined when any value is accepted. */
  restrictedLeadSources?: Set<string>;
}

export function readLeadDescribe(raw: { createable?: boolean; fields?: unknown[] }): LeadDescribe {
  const fields = new Map<string, DescribedField>();
  for (const f of raw.fields ?? []) {
    const field = f as DescribedField;
    if (field && typeof field.name === 'string') fields.set(field.name, field);
  }
  const lengths: Record<string, number> = { ...SALESFORCE_LEAD_LENGTHS };
  for (const f of fields.values()) if (typeof f.length === 'number' && f.length > 0) lengths[f.name] = f.length;
  const leadSource = fields.get('LeadSource');
  const restrictedLeadSources = leadSource?.restrictedPicklist
    ? new Set((leadSource.picklistValues ?? []).filter((v) => v.active !== false).map((v) => v.value))
    : undefined;
  return { createable: raw.createable !== false, fields, lengths, countryPicklists: fields.has('CountryCode'), restrictedLeadSources };
}
