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
});
export type SalesforceSettings = z.output<typeof salesforceSettings>;

export const OID_PATTERN = /^00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$/;
