import { formatLeadSource, renderFields, type FieldValue, type Lead } from '@leadrelay/core';
import { fitToLengths } from '../shared/index.js';

/**
 * Max lengths of the lead columns (Dataverse lead table reference). Longer values are truncated, with a
 * warning on the lead's timeline, rather than failing the whole lead with "exceeded the maximum allowed length";
 * an over-long emailaddress1 is left out instead (cut, it would be another address).
 */
export const DYNAMICS_LEAD_MAX_LENGTHS: Readonly<Record<string, number>> = {
  firstname: 50,
  lastname: 50,
  emailaddress1: 100,
  telephone1: 50,
  mobilephone: 20,
  middlename: 50,
  websiteurl: 200,
  address1_city: 80,
  address1_line1: 250,
  address1_postalcode: 20,
  address1_stateorprovince: 50,
  address1_country: 80,
  companyname: 100,
  jobtitle: 100,
  subject: 300,
  description: 2000,
};

export interface DynamicsMappingSettings {
  /** `leadsourcecode` option value (8 = Web). */
  leadSourceCode: number;
  /** `fields:` templates that add to or override the default columns. */
  fields?: Record<string, FieldValue>;
}


function present(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}

/**
 * The body of the `leads` upsert (README: Destinations → Dynamics 365, Mapping). Absent customer fields are left out (so a retry never blanks a
 * column someone filled in Dynamics), except `lastname`, which Dataverse requires: it gets the placeholder.
 */
export function mapLeadToDynamics(lead: Lead, settings: DynamicsMappingSettings, placeholder: string): { record: Record<string, FieldValue>; warnings: string[] } {
  const c = lead.customer;
  const body: Record<string, FieldValue | undefined> = {
    firstname: present(c.firstName),
    lastname: present(c.lastName) ?? placeholder,
    emailaddress1: present(c.email),
    telephone1: present(c.phone),
    address1_country: present(c.country),
    companyname: present(c.company),
    jobtitle: present(c.title),
    subject: formatLeadSource(lead),
    description: present(lead.description),
    leadsourcecode: settings.leadSourceCode,
    ...renderFields(settings.fields, lead),
  };
  const out: Record<string, FieldValue> = {};
  for (const [column, value] of Object.entries(body)) if (value !== undefined) out[column] = value;
  return fitToLengths(out, DYNAMICS_LEAD_MAX_LENGTHS, 'Dynamics lead', { leaveOut: ['emailaddress1'] });
}
