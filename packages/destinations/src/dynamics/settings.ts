import { z } from 'zod';
import { zHttpUrl } from '@leadrelay/core';

const authorityHost = zHttpUrl().default('https://login.microsoftonline.com');

export const dynamicsSettings = z.object({
  /** The environment URL, e.g. https://contoso.crm4.dynamics.com. */
  instanceUrl: zHttpUrl(),
  /** Web API version: requests go to `/api/data/v<apiVersion>/`. */
  apiVersion: z.string().regex(/^9\.\d+$/, 'must be a Dataverse Web API version like 9.2').default('9.2'),
  auth: z.discriminatedUnion('mode', [
    z.object({
      mode: z.literal('client-secret'),
      tenantId: z.string().min(1, 'is required'),
      clientId: z.string().min(1, 'is required'),
      clientSecret: z.string().min(1, 'is required'),
      /** Azure AD host; any https host other than the default is trusted as a known authority. */
      authorityHost,
    }).strict(),
    z.object({
      mode: z.literal('password'),
      tenantId: z.string().min(1, 'is required'),
      clientId: z.string().min(1, 'is required'),
      username: z.string().min(1, 'is required'),
      password: z.string().min(1, 'is required'),
      authorityHost,
    }).strict(),
  ]),
  /**
   * `create-only` (default): each lead is created with `If-None-Match: *`; a retry that finds the record (its first
   * try was written but the answer lost) gets 412 and counts as delivered, so the role needs Create on Lead only.
   * `upsert`: a plain PATCH that updates on a retry, which needs Create and Write on Lead (prvCreateLead, prvWriteLead).
   */
  writeMode: z.enum(['create-only', 'upsert']).default('create-only'),
  /** `leadsourcecode` option value written on every lead (8 = Web). */
  leadSourceCode: z.number().int().min(1).default(8),
});
export type DynamicsSettings = z.output<typeof dynamicsSettings>;
