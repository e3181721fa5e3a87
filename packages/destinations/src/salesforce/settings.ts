import { z } from 'zod';
import { zHttpUrl } from '@leadrelay/core';

export const salesforceSettings = z.object({
  /** `web-to-lead`: form POST, what Microsoft's connector does; `api`: REST with OAuth client credentials. */
  mode: z.enum(['web-to-lead', 'api']),
  /** Web-to-Lead organization id (15 or 18 characters, starts with 00D). */
  oid: z.string().optional(),
  url: zHttpUrl().default('https://webto.salesforce.com/servlet/servlet.WebToLead?encoding=UTF-8'),
  /** Web-to-Lead requests allowed in a rolling 24 h (Salesforce's limit: 500). */
  dailyLimit: z.number().int().positive().default(500),
  /** OAuth host for `mode: api`, e.g. https://mydomain.my.salesforce.com. */
  loginUrl: zHttpUrl().optional(),
  clientId: z.string().min(1).optional(),
  clientSecret: z.string().min(1).optional(),
  apiVersion: z.string().regex(/^\d+\.\d$/, 'must be an API version like 62.0').default('62.0'),
  /**
   * `mode: api`: API name of a custom Lead text field marked External ID and Unique (e.g. `LeadRelay_Id__c`) that
   * holds the lead id. Leads are then upserted on it, so a retry after a lost answer updates the Lead it created
   * instead of creating a second one. Without it leads are created, and `check` warns that retries may duplicate.
   */
  externalIdField: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*__c$/, 'must be the API name of a custom Lead field, e.g. LeadRelay_Id__c').optional(),
  /**
   * State and Country/Territory Picklists in the org. `auto` (default): `mode: api` reads it from the Lead describe
   * (a CountryCode field means they are on); Web-to-Lead assumes on, as in new orgs. `on`: countries go as ISO codes
   * in CountryCode / `country_code`. `off`: the country goes to Country / `country` as received.
   */
  countryPicklists: z.enum(['auto', 'on', 'off']).default('auto'),
  /**
   * LeadSource values. `map`: by lead source (`AzureMarketplace`, `AzurePortal`, `SPZA`, `TestDrive`) or by the whole
   * `Source-Action|Offer`; unmapped leads send `Source-Action|Offer`. `fallback`: sent when the value is not in a
   * restricted LeadSource picklist (`mode: api` reads the picklist from the describe); without one LeadSource is
   * left empty for that lead. Either way the lead is delivered, with a warning on its timeline.
   */
  leadSource: z.object({
    map: z.record(z.string(), z.string().min(1)).default({}),
    fallback: z.string().min(1).optional(),
  }).strict().default({ map: {} }),
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
