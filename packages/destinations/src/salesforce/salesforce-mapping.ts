import { formatLeadSource, renderFields, type FieldValue, type Lead } from '@leadrelay/core';

/**
 * Lead.LeadSource is a picklist of length 255 (Salesforce field reference, Lead). Offer ids are
 * unbounded, so `Source-Action|Offer` is cut to fit rather than failing every lead of a long offer id.
 */
export const LEAD_SOURCE_MAX_LENGTH = 255;

export interface SalesforceMappingInput {
  /** `defaults.placeholder`: fills Last Name and Company, the two fields Salesforce requires on a Lead. */
  placeholder: string;
  /** The destination's `fields:` (templates), added to or overriding the defaults. */
  fields?: Record<string, FieldValue>;
}

function present(v: string | undefined): v is string {
  return v !== undefined && v.trim() !== '';
}

/** `Source-Action|Offer`, cut to the LeadSource length. */
export function salesforceLeadSource(lead: Lead): string {
  return formatLeadSource(lead).slice(0, LEAD_SOURCE_MAX_LENGTH);
}

/**
 * The Web-to-Lead form (SPEC §5): standard Web-to-Lead names, `oid` and `encoding=UTF-8` first,
 * then the rendered `fields:` (custom fields are named by their 15-character field id, e.g.
 * `00N5g00000AbCdE`). Absent customer values are left out rather than sent empty; an override
 * replaces a default in place, so the body order is stable.
 */
export function webToLeadForm(lead: Lead, oid: string, input: SalesforceMappingInput): [string, string][] {
  const c = lead.customer;
  const form = new Map<string, string>([['oid', oid], ['encoding', 'UTF-8']]);
  const put = (name: string, value: string | undefined) => { if (present(value)) form.set(name, value); };
  put('first_name', c.firstName);
  form.set('last_name', present(c.lastName) ? c.lastName : input.placeholder);
  put('email', c.email);
  put('phone', c.phone);
  put('country', c.country);
  form.set('company', present(c.company) ? c.company : input.placeholder);
  put('title', c.title);
  put('description', lead.description);
  form.set('lead_source', salesforceLeadSource(lead));
  for (const [name, value] of Object.entries(renderFields(input.fields, lead))) form.set(name, formValue(value));
  return [...form];
}

/** Checkboxes in Salesforce's generated Web-to-Lead forms post `1`; an unchecked one posts `0` here rather than nothing. */
function formValue(v: FieldValue): string {
  if (typeof v === 'boolean') return v ? '1' : '0';
  return String(v);
}

/**
 * The REST Lead record (API field names): the Web-to-Lead mapping of SPEC §5 under REST names,
 * then the rendered `fields:` (API names such as `Offer__c`; numbers and booleans stay typed).
 */
export function restLeadRecord(lead: Lead, input: SalesforceMappingInput): Record<string, FieldValue> {
  const c = lead.customer;
  const record: Record<string, FieldValue> = {};
  const put = (name: string, value: string | undefined) => { if (present(value)) record[name] = value; };
  put('FirstName', c.firstName);
  record.LastName = present(c.lastName) ? c.lastName : input.placeholder;
  put('Email', c.email);
  put('Phone', c.phone);
  put('Country', c.country);
  record.Company = present(c.company) ? c.company : input.placeholder;
  put('Title', c.title);
  put('Description', lead.description);
  record.LeadSource = salesforceLeadSource(lead);
  return { ...record, ...renderFields(input.fields, lead) };
}
