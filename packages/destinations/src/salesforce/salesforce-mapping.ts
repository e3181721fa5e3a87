import { formatLeadSource, renderFields, type FieldValue, type Lead } from '@leadrelay/core';
import { readCountry } from './salesforce-countries.js';

/**
 * Lead.LeadSource is a picklist of length 255 (Salesforce field reference, Lead). Offer ids are
 * unbounded, so `Source-Action|Offer` is cut to fit rather than failing every lead of a long offer id.
 */
export const LEAD_SOURCE_MAX_LENGTH = 255;

/**
 * Lead field lengths of a new org (Salesforce field reference, Lead). Orgs can change them: the REST client
 * reads the real ones from the Lead describe; Web-to-Lead, which has no describe, uses these.
 */
export const SALESFORCE_LEAD_LENGTHS: Readonly<Record<string, number>> = {
  FirstName: 40, MiddleName: 40, LastName: 80, Suffix: 40, Email: 80, Phone: 40, MobilePhone: 40, Fax: 40,
  Title: 128, Company: 255, Country: 80, State: 80, City: 40, Street: 255, PostalCode: 20, Website: 255,
  Description: 32_000, LeadSource: 255, Industry: 255,
};

/** The Web-to-Lead form names of the standard fields above. */
const WEB_TO_LEAD_NAMES: Readonly<Record<string, string>> = {
  FirstName: 'first_name', LastName: 'last_name', Email: 'email', Phone: 'phone', MobilePhone: 'mobile', Fax: 'fax',
  Title: 'title', Company: 'company', Country: 'country', State: 'state', City: 'city', Street: 'street', PostalCode: 'zip',
  Website: 'URL', Description: 'description', LeadSource: 'lead_source', Industry: 'industry',
};

/** SALESFORCE_LEAD_LENGTHS under Web-to-Lead names. */
export const WEB_TO_LEAD_LENGTHS: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(WEB_TO_LEAD_NAMES).map(([api, form]) => [form, SALESFORCE_LEAD_LENGTHS[api]!]),
);

export interface SalesforceMappingInput {
  /** `defaults.placeholder`: fills Last Name and Company, the two fields Salesforce requires on a Lead. */
  placeholder: string;
  /** The destination's `fields:` (templates), added to or overriding the defaults. */
  fields?: Record<string, FieldValue>;
  /**
   * True when the org has State and Country/Territory Picklists (on by default in new orgs): a country is sent
   * as its ISO code in CountryCode (`country_code`), because text Country then only takes the picklist's
   * integration value and rejects a code with FIELD_INTEGRITY_EXCEPTION. Text that is no known country
   * (`Europe`) would be refused the same way, so it is left out, with a warning. False: the country goes to
   * Country as received.
   */
  countryPicklists?: boolean;
  /** LeadSource values by lead source (`AzureMarketplace`, `SPZA`, …) or by the whole `Source-Action|Offer`. */
  leadSourceMap?: Record<string, string>;
}

function present(v: string | undefined): v is string {
  return v !== undefined && v.trim() !== '';
}

/** The mapped LeadSource (`leadSource.map`), else `Source-Action|Offer`, cut to the LeadSource length. */
export function salesforceLeadSource(lead: Lead, map: Record<string, string> = {}): string {
  const formatted = formatLeadSource(lead);
  return (map[formatted] ?? map[lead.source] ?? formatted).slice(0, LEAD_SOURCE_MAX_LENGTH);
}

/** A mapped Salesforce record and what the mapping changed to make the org take it (for the lead's timeline). */
export interface SalesforceMapped<T> {
  record: T;
  warnings: string[];
}

/**
 * Where a country goes: `{CountryCode: 'GB'}` with picklists, else `{Country: …}`. With picklists on, text that
 * is no known country has no place an org takes (text Country only holds a country's integration value, else
 * FIELD_INTEGRITY_EXCEPTION on REST and a silently dropped lead on Web-to-Lead): it is left out, with a warning
 * that names the field, not the value.
 */
export function countryField(country: string | undefined, picklists: boolean, names: { code: string; text: string }, what: string): { fields: Record<string, string>; warning?: string } {
  if (!present(country)) return { fields: {} };
  if (!picklists) return { fields: { [names.text]: country } };
  const read = readCountry(country);
  if ('code' in read) return { fields: { [names.code]: read.code } };
  return {
    fields: {},
    warning: `${what} field ${names.text} left out: the lead's country is no known country, and with State and Country/Territory Picklists on `
      + `Salesforce refuses such a value (FIELD_INTEGRITY_EXCEPTION)`,
  };
}

/**
 * The Web-to-Lead form (README: Destinations → Salesforce): standard Web-to-Lead names, `oid` and `encoding=UTF-8` first,
 * then the rendered `fields:` (custom fields are named by their 15-character field id, e.g.
 * `00N5g00000AbCdE`). Absent customer values are left out rather than sent empty; an override
 * replaces a default in place, so the body order is stable.
 */
export function webToLeadForm(lead: Lead, oid: string, input: SalesforceMappingInput): SalesforceMapped<[string, string][]> {
  const c = lead.customer;
  const warnings: string[] = [];
  const form = new Map<string, string>([['oid', oid], ['encoding', 'UTF-8']]);
  const put = (name: string, value: string | undefined) => { if (present(value)) form.set(name, value); };
  put('first_name', c.firstName);
  form.set('last_name', present(c.lastName) ? c.lastName : input.placeholder);
  put('email', c.email);
  put('phone', c.phone);
  const country = countryField(c.country, input.countryPicklists ?? false, { code: 'country_code', text: 'country' }, 'Salesforce Web-to-Lead');
  for (const [name, value] of Object.entries(country.fields)) form.set(name, value);
  if (country.warning) warnings.push(country.warning);
  form.set('company', present(c.company) ? c.company : input.placeholder);
  put('title', c.title);
  put('description', lead.description);
  form.set('lead_source', salesforceLeadSource(lead, input.leadSourceMap));
  for (const [name, value] of Object.entries(renderFields(input.fields, lead))) form.set(name, formValue(value));
  return { record: [...form], warnings };
}

/** Checkboxes in Salesforce's generated Web-to-Lead forms post `1`; an unchecked one posts `0` here rather than nothing. */
function formValue(v: FieldValue): string {
  if (typeof v === 'boolean') return v ? '1' : '0';
  return String(v);
}

/**
 * The REST Lead record (API field names): the Web-to-Lead mapping above under REST names,
 * then the rendered `fields:` (API names such as `Offer__c`; numbers and booleans stay typed).
 */
export function restLeadRecord(lead: Lead, input: SalesforceMappingInput): SalesforceMapped<Record<string, FieldValue>> {
  const c = lead.customer;
  const warnings: string[] = [];
  const record: Record<string, FieldValue> = {};
  const put = (name: string, value: string | undefined) => { if (present(value)) record[name] = value; };
  put('FirstName', c.firstName);
  record.LastName = present(c.lastName) ? c.lastName : input.placeholder;
  put('Email', c.email);
  put('Phone', c.phone);
  const country = countryField(c.country, input.countryPicklists ?? false, { code: 'CountryCode', text: 'Country' }, 'Salesforce Lead');
  Object.assign(record, country.fields);
  if (country.warning) warnings.push(country.warning);
  record.Company = present(c.company) ? c.company : input.placeholder;
  put('Title', c.title);
  put('Description', lead.description);
  record.LeadSource = salesforceLeadSource(lead, input.leadSourceMap);
  return { record: { ...record, ...renderFields(input.fields, lead) }, warnings };
}
