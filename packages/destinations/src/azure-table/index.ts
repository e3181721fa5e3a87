import { defineDestination } from '../destination.js';
import { MAX_TRANSACTION_SIZE, azureTableSettings, tableEndpoint } from './settings.js';
import { fieldsProblems, partitionKeyOf } from './azure-table-mapping.js';

export const azureTable = defineDestination({
  type: 'azure-table',
  title: 'Azure Table storage',
  settings: azureTableSettings,
  // `fields:` become entity properties: their names must be valid Azure Table property names.
  refine: (s, report) => {
    const { fields } = s;
    for (const p of fieldsProblems(fields)) report(p.name === undefined ? ['fields'] : ['fields', p.name], p.message);
  },
  outboundUrls: (s) => {
    const url = tableEndpoint(s.connectionString);
    return url ? [{ path: ['connectionString'], url }] : [];
  },
  defaults: { concurrency: 4 },
  // Entity-group transactions: at most 100 entities, all in one partition.
  batching: () => ({ maxSize: MAX_TRANSACTION_SIZE, maxWaitMs: 200, key: partitionKeyOf }),
  create: async (settings, ctx) => new (await import('./azure-table-client.js')).AzureTableClient(settings, ctx),
});
