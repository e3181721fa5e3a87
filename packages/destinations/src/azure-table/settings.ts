import { z } from 'zod';

export const azureTableSettings = z.object({
  connectionString: z.string().min(1, 'is required').refine(
    (v) => /^UseDevelopmentStorage=true/i.test(v.trim()) || /AccountName=/i.test(v) || /TableEndpoint=/i.test(v),
    'must be a storage connection string (AccountName=…;AccountKey=…) or UseDevelopmentStorage=true')
    .describe('Storage account connection string (AccountName=…;AccountKey=… or a TableEndpoint=…), or UseDevelopmentStorage=true for a local Azurite.'),
  table: z.string().regex(/^[A-Za-z][A-Za-z0-9]{2,62}$/, 'must be 3-63 letters and digits, starting with a letter').default('MarketplaceLeads')
    .describe("Table the leads are written to, created if missing; Microsoft's own table destination writes MarketplaceLeads. 3-63 letters and digits, starting with a letter."),
});
export type AzureTableSettings = z.output<typeof azureTableSettings>;

/** The table endpoint a connection string points at, for the https check. */
export function tableEndpoint(connectionString: string): string | undefined {
  if (/^UseDevelopmentStorage=true/i.test(connectionString.trim())) return 'http://127.0.0.1:10002/devstoreaccount1';
  const parts = Object.fromEntries(connectionString.split(';').filter(Boolean).map((kv) => {
    const i = kv.indexOf('=');
    return [kv.slice(0, i).trim().toLowerCase(), kv.slice(i + 1).trim()];
  }));
  if (parts.tableendpoint) return parts.tableendpoint;
  if (parts.accountname) return `${parts.defaultendpointsprotocol ?? 'https'}://${parts.accountname}.table.${parts.endpointsuffix ?? 'core.windows.net'}`;
  return undefined;
}

/** Azure Table entity-group transactions (batches) hold at most 100 operations. */
export const MAX_TRANSACTION_SIZE = 100;
