import { z } from 'zod';
import { zHttpUrl } from '@leadrelay/core';

const authorityHost = zHttpUrl().default('https://login.microsoftonline.com')
  .describe('Entra ID (Azure AD) sign-in host; any https host other than the default is trusted as a known authority (sovereign clouds, test servers).');
const tenantId = z.string().min(1, 'is required').describe('Entra ID tenant (id or domain) of the Dataverse environment.');
const clientId = z.string().min(1, 'is required').describe('Application (client) id of the app registration.');

export const dynamicsSettings = z.object({
  instanceUrl: zHttpUrl().describe('The environment URL, e.g. https://contoso.crm4.dynamics.com.'),
  apiVersion: z.string().regex(/^9\.\d+$/, 'must be a Dataverse Web API version like 9.2').default('9.2')
    .describe('Dataverse Web API version: requests go to /api/data/v<apiVersion>/.'),
  auth: z.discriminatedUnion('mode', [
    z.object({
      mode: z.literal('client-secret').describe('client-secret: an application user signs in with its client secret; password: a user signs in with user name and password.'),
      tenantId,
      clientId,
      clientSecret: z.string().min(1, 'is required').describe('Client secret of the app registration.'),
      authorityHost,
    }).strict(),
    z.object({
      mode: z.literal('password').describe('client-secret: an application user signs in with its client secret; password: a user signs in with user name and password.'),
      tenantId,
      clientId,
      username: z.string().min(1, 'is required').describe('User that signs in (user principal name).'),
      password: z.string().min(1, 'is required').describe("That user's password."),
      authorityHost,
    }).strict(),
  ]).describe('How LeadRelay signs in to Dataverse.'),
  writeMode: z.enum(['create-only', 'upsert']).default('create-only').describe(
    'create-only: each lead is created with If-None-Match: *; a retry that finds the record (its first try was written but the answer lost) '
    + 'gets 412 and counts as delivered, so the role needs Create on Lead only. upsert: a plain PATCH that updates on a retry, '
    + 'which needs Create and Write on Lead (prvCreateLead, prvWriteLead).'),
  leadSourceCode: z.number().int().min(1).default(8).describe('leadsourcecode option value written on every lead (8 = Web).'),
});
export type DynamicsSettings = z.output<typeof dynamicsSettings>;
