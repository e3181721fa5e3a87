import { z } from 'zod';
import { zHttpUrl } from '@leadrelay/core';

export const salesforceSettings = z.object({
  mode: z.enum(['web-to-lead', 'api'])
    .describe("web-to-lead: a form POST, what Microsoft's own Salesforce connector does; api: the REST API with OAuth client credentials."),
  oid: z.string().optional()
    .describe('Web-to-Lead organization id (15 or 18 characters, starts with 00D); required with mode: web-to-lead. Default: none.'),
  url: zHttpUrl().default('https://webto.salesforce.com/servlet/servlet.WebToLead?encoding=UTF-8').describe('Web-to-Lead form endpoint.'),
  dailyLimit: z.number().int().positive().default(500)
    .describe("Web-to-Lead requests allowed in a rolling 24 hours (Salesforce's limit is 500 per org)."),
  loginUrl: zHttpUrl().optional()
    .describe('OAuth host for mode: api, e.g. https://mydomain.my.salesforce.com; required with mode: api. Default: none.'),
  clientId: z.string().min(1).optional().describe('Consumer key of the connected app; required with mode: api. Default: none.'),
  clientSecret: z.string().min(1).optional().describe('Consumer secret of the connected app; required with mode: api. Default: none.'),
  apiVersion: z.string().regex(/^\d+\.\d$/, 'must be an API version like 62.0').default('62.0').describe('REST API version for mode: api.'),
  externalIdField: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*__c$/, 'must be the API name of a custom Lead field, e.g. LeadRelay_Id__c').optional().describe(
    'mode: api: API name of a custom Lead text field marked External ID and Unique (e.g. LeadRelay_Id__c) that holds the lead id. '
    + 'Leads are then upserted on it, so a retry after a lost answer updates the Lead it created instead of creating a second one. '
    + 'Default: none; leads are created, and `check` warns that retries may duplicate.'),
  countryPicklists: z.enum(['auto', 'on', 'off']).default('auto').describe(
    'Whether the org has State and Country/Territory Picklists. auto: mode: api reads it from the Lead describe (a CountryCode field '
    + 'means they are on), Web-to-Lead assumes on, as in new orgs. on: countries go as ISO codes in CountryCode / country_code. '
    + 'off: the country goes to Country / country as received.'),
  leadSource: z.object({
    map: z.record(z.string(), z.string().min(1)).default({}).describe(
      'LeadSource value by lead source (AzureMarketplace, AzurePortal, SPZA, TestDrive) or by the whole Source-Action|Offer; '
      + 'an unmapped lead sends Source-Action|Offer.'),
    fallback: z.string().min(1).optional().describe(
      'Sent when the value is not in a restricted LeadSource picklist (mode: api reads the picklist from the describe). '
      + 'Default: none; LeadSource is left empty for that lead.'),
  }).strict().prefault({}).describe("How the LeadSource field is filled. A value the picklist refuses never stops a delivery: the fallback (or an empty LeadSource) goes instead, with a warning on the lead's timeline."),
});
export type SalesforceSettings = z.output<typeof salesforceSettings>;

export const OID_PATTERN = /^00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$/;

/**
 * The 3-character suffix that turns a case-sensitive 15-character Salesforce id into its 18-character form:
 * one character per 5-character chunk, encoding which of the chunk's characters are upper case.
 */
export function idSuffix(id15: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
  let out = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) if (/[A-Z]/.test(id15[chunk * 5 + i]!)) bits |= 1 << i;
    out += alphabet[bits];
  }
  return out;
}

/**
 * The 15-character organization id Web-to-Lead forms carry, from a 15- or 18-character one (spaces trimmed).
 * Undefined when it is not an org id, or when an 18-character id's suffix does not match (a mistyped id).
 */
export function normaliseOid(oid: string | undefined): string | undefined {
  const text = oid?.trim() ?? '';
  if (!OID_PATTERN.test(text)) return undefined;
  if (text.length === 15) return text;
  const id15 = text.slice(0, 15);
  return text.slice(15).toUpperCase() === idSuffix(id15) ? id15 : undefined;
}
