import { defineDestination } from '../destination.js';
import { azureTableSettings, tableEndpoint } from './settings.js';
import { AzureTableClient, partitionKeyOf } from './azure-table-client.js';

export const azureTable = defineDestination({
  type: 'azure-table',
  title: 'Azure Table storage',
  settings: azureTableSettings,
  outboundUrls: (s) => {
    const url = tableEndpoint(s.connectionString);
    return url ? [{ path: ['connectionString'], url }] : [];
  },
  defaults: { concurrency: 4 },
  // Entity-group transactions: at most 100 entities, all in one partition.
  batching: () => ({ maxSize: 100, maxWaitMs: 200, key: partitionKeyOf }),
  create: (settings, ctx) => new AzureTableClient(settings, ctx),
});
