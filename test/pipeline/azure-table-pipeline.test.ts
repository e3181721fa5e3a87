import { TableClient } from '@azure/data-tables';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { uniquePrefix } from '../helpers/index.js';
import { Pipeline, marketplaceLead, pipelineConfig } from './pipeline-harness.js';

/** Leads flow through the real worker into a real Azurite table, one entity per lead, in batches when a backlog waits. */
describe('azure-table destination through the pipeline', () => {
  let p: Pipeline;
  afterEach(async () => p?.close());

  it('writes every lead of a backlog exactly once, readable back from Azurite', async () => {
    const connectionString = inject('azuriteConnectionString');
    const table = uniquePrefix('Leads').replace(/[^A-Za-z0-9]/g, '');
    p = new Pipeline(pipelineConfig(`
  - { id: table, type: azure-table, connectionString: "${connectionString}", table: ${table} }`));
    const ids: string[] = [];
    for (let i = 0; i < 250; i++) ids.push(await p.accept(marketplaceLead({ OfferTitle: `Widget ${i}` })));
    await p.startWorkers();
    for (const id of ids) await p.waitForState(id, 'table', ['delivered'], 30_000);

    const client = TableClient.fromConnectionString(connectionString, table, { allowInsecureConnection: true });
    const rows = [];
    for await (const e of client.listEntities()) rows.push(e);
    expect(rows).toHaveLength(250);
    expect(new Set(rows.map((r) => r.rowKey))).toEqual(new Set(ids));
    const one = rows.find((r) => r.rowKey === ids[0])!;
    expect(one.partitionKey).toBe('contoso.widget');
    expect(one.LeadSource).toBe('AzureMarketplace-INS|contoso.widget');
    expect(JSON.parse(one.CustomerInfo as string)).toMatchObject({ FirstName: 'Ada', Company: 'Contoso' });

    // Replaying a delivered lead's job again must not create a second entity (409 = delivered).
    const again = await p.relay.accept({ ...(await p.relay.leads.getLead(ids[0]!))!, id: ids[0]! }, { clientId: true });
    expect(again.duplicate).toBe(true);
  });
});
