import { z } from 'zod';
import { checkOutboundUrl, DURATION_HELP, zDuration } from '@leadrelay/core';

/** Ids of sources and destinations share one form. */
export const ID_PATTERN = /^[a-z][a-z0-9-]{0,39}$/;

/** Leads a source or destination takes; every key optional. */
export const matchSchema = z.object({
  actions: z.array(z.string().min(1)).optional().describe('Action codes taken (INS, PLT, Create, StartTestDrive, ...), compared case-insensitively. Default: every action.'),
  sources: z.array(z.string().min(1)).optional().describe('Lead sources taken (AzureMarketplace, AzurePortal, SPZA, TestDrive, ...), compared case-insensitively. Default: every lead source.'),
  offers: z.array(z.string().min(1)).optional().describe('Globs on publisherid.offerid (`*` any run of characters, `?` one), case-insensitive. Default: every offer.'),
  testLeads: z.boolean().default(true).describe('Whether MSFT_TEST leads (Partner Center test leads) are taken.'),
}).strict();

/** `now`, `all` or an ISO 8601 date or date-time (`2024-01-01`, `2024-01-01T08:00:00Z`). */
const START = /^(?:now|all|\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?)$/;
const START_HELP = "must be 'now', 'all' or an ISO date such as 2024-01-01 or 2024-01-01T08:00:00Z";

const start = z.string().regex(START, START_HELP)
  .refine((v) => v === 'now' || v === 'all' || !Number.isNaN(Date.parse(v)), START_HELP)
  .default('now')
  .describe('Where the first poll starts: now (only new leads), all (everything the source holds) or an ISO date. Later polls continue from the watermark.');

const outboundUrl = (fallback: string, description: string) =>
  z.string().refine((u) => checkOutboundUrl(u, false) === undefined, 'must be an https URL (plain http only for loopback hosts)').default(fallback).describe(description);

/** Keys every source has, whatever its type. */
const commonSourceShape = {
  id: z.string().regex(ID_PATTERN, 'must match ^[a-z][a-z0-9-]{0,39}$ (lowercase letters, digits, dashes)')
    .describe('Unique among sources: lowercase letters, digits and dashes, starting with a letter, at most 40 characters.'),
  enabled: z.boolean().default(true).describe('A disabled source is not polled.'),
  pollEvery: zDuration().optional().describe(`Time between polls. Default: 5m for referrals, 1m for azure-table. ${DURATION_HELP}`),
  start,
  match: matchSchema.prefault({}).describe("Which of this source's leads are taken (same keys as a destination's match); each destination's own match then routes them."),
};

const SOURCE_TYPE_HELP = 'Kind of source; it decides which other keys the source takes.';

const referralStatus = z.enum(['None', 'New', 'Active', 'Closed']);

export const referralsSourceSchema = z.object({
  ...commonSourceShape,
  type: z.literal('referrals').describe(SOURCE_TYPE_HELP),
  tenantId: z.string().min(1).describe('Entra ID tenant (id or domain) of the Partner Center account.'),
  clientId: z.string().min(1).describe('Application (client) id of the app registration with the delegated Microsoft Partner permission.'),
  apiUrl: outboundUrl('https://api.partner.microsoft.com', 'Partner Center API host (a test server may stand in).'),
  authorityHost: outboundUrl('https://login.microsoftonline.com', 'Entra ID sign-in host; any other https host is trusted as a known authority (sovereign clouds, test servers).'),
  pageSize: z.number().int().min(1).max(100).default(100).describe('Referrals per page ($top); the API returns at most 100.'),
  timeout: zDuration().prefault('30s').describe(`Timeout of one API call. ${DURATION_HELP}`),
  filter: z.object({
    types: z.array(z.enum(['Independent', 'Shared'])).min(1).optional().describe('Referral types taken. Default: every type.'),
    qualifications: z.array(z.enum(['None', 'Direct', 'MarketingQualified', 'SalesQualified'])).min(1).optional().describe('Qualifications taken. Default: every qualification.'),
    directions: z.array(z.enum(['Incoming', 'Outgoing'])).min(1).default(['Incoming']).describe('Directions taken: Incoming (referrals others send you) and/or Outgoing (ones you send).'),
    statuses: z.array(referralStatus).min(1).optional().describe('Statuses taken. Default: every status.'),
  }).strict().prefault({}).describe('Which referrals become leads; default every incoming referral.'),
  writeBack: z.object({
    destination: z.string().regex(ID_PATTERN).describe("Destination whose record id becomes the referral's externalReferenceId once the lead is delivered there."),
    status: z.enum(['none', 'accept']).default('none').describe('accept also moves a New referral to Active / Accepted.'),
  }).strict().optional().describe("Write the CRM record id back to the referral's externalReferenceId after delivery. Default: nothing is written back."),
}).strict().meta({ title: 'Partner Center Referrals API', description: 'Referrals from the Partner Center Referrals API become leads; needs `secrets.key` for its token cache.' });

export const tableSourceSchema = z.object({
  ...commonSourceShape,
  type: z.literal('azure-table').describe(SOURCE_TYPE_HELP),
  connectionString: z.string().min(1).describe('Connection string of the storage account Microsoft writes leads to (UseDevelopmentStorage=true for Azurite).'),
  table: z.string().regex(/^[A-Za-z][A-Za-z0-9]{2,62}$/, 'must be 3-63 letters and digits, starting with a letter').default('MarketplaceLeads')
    .describe("The table Microsoft's Azure Table lead destination writes to."),
  pageSize: z.number().int().min(1).max(1000).default(1000).describe('Rows read per page; the service returns at most 1000.'),
  allowInsecure: z.boolean().default(false).describe('Allow plain http to a non-loopback table endpoint (Azurite in a compose network).'),
}).strict().meta({ title: 'Azure Table', description: "Rows of the table Microsoft's Azure Table lead destination writes become leads." });

/** One pull source beside the webhook intake. */
export const sourceSchema = z.discriminatedUnion('type', [referralsSourceSchema, tableSourceSchema]);

/** Default time between polls, by type. */
export const DEFAULT_POLL_EVERY: Record<SourceType, number> = { referrals: 300_000, 'azure-table': 60_000 };

export const secretsSchema = z.object({
  key: z.string().refine((v) => {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(v)) return false;
    return Buffer.from(v, 'base64').length === 32;
  }, 'must be 32 bytes in base64 (44 characters; make one with `openssl rand -base64 32`)')
    .optional().describe("Encrypts what LeadRelay stores for itself (a referrals source's token cache): 32 bytes in base64, made with `openssl rand -base64 32`. Default: none, which is allowed only while no referrals source is enabled."),
}).strict();

export const dedupeSchema = z.object({
  identity: z.array(z.enum(['email', 'offer', 'action', 'source'])).min(1).default(['email', 'offer', 'action'])
    .describe('Lead fields (email lower-cased and trimmed) whose values make a lead identity key: a lead whose key was already seen inside the window merges into the first lead (one delivery per destination), whichever source brought it.'),
  window: zDuration().prefault('7d').describe(`How long a lead identity key is remembered; 0s turns merging off. ${DURATION_HELP}`),
  customer: z.enum(['off', 'merge-window']).default('off')
    .describe("off: the identity key decides alone. merge-window: one customer's leads for one offer inside the window (Contact me, then Get it now, then Create) are one record, whatever the action."),
}).strict();

export type SourceConfigInput = z.input<typeof sourceSchema>;
export type SourceType = z.output<typeof sourceSchema>['type'];
