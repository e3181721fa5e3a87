import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { TableClient } from '@azure/data-tables';
import {
  DeliveryError, InvalidAuthenticationError, InvalidConfigurationError, PayloadValidationError, RetryableError, ThrottledError,
  type FieldValue, type Lead,
} from '@leadrelay/core';
import { silentLogger } from '@leadrelay/observability';
import { AZURITE_ACCOUNT_KEY } from '../../../../test/helpers/azurite.js';
import { uniquePrefix } from '../../../../test/helpers/unique.js';
import type { BatchItemResult, DestinationContext } from '../destination.js';
import { MemoryRollingQuota } from '../shared/index.js';
import { TableFaultProxy } from './__tests__/table-fault-proxy.js';
import { AzureTableClient, type AzureTableClientOptions } from './azure-table-client.js';
import { azureTableSettings } from './settings.js';
import { deliveryFailure } from '../../../../test/helpers/delivery-failure.js';

const connectionString = inject('azuriteConnectionString');
const ctx: DestinationContext = {
  logger: silentLogger,
  placeholder: '[not provided]',
  rollingQuota: (_name, limit, windowMs) => new MemoryRollingQuota(limit, windowMs),
};
const insecure = { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } };

const base: Lead = {
  id: 'lead-1',
  source: 'AzureMarketplace',
  action: 'INS',
  offer: 'contoso.widget',
  offerTitle: 'Contoso Widget',
  customer: { firstName: 'Some', lastName: 'One', email: 'someone@contoso.com', phone: '16175555555', country: 'USA', company: 'Contoso', title: 'Esquire' },
  description: 'Test run',
  createdAt: '2026-03-04T05:06:07.000Z',
  testLead: false,
};

const leadN = (n: number, over: Partial<Lead> = {}): Lead => ({ ...base, id: `lead-${String(n).padStart(4, '0')}`, ...over });

function makeClient(table: string, opts: { cs?: string; fields?: Record<string, FieldValue>; id?: string; allowInsecure?: boolean } = {}, options?: AzureTableClientOptions): AzureTableClient {
  const settings = azureTableSettings.parse({ connectionString: opts.cs ?? connectionString, table });
  return new AzureTableClient({ ...settings, id: opts.id ?? 'table', type: 'azure-table', enabled: true, allowInsecure: opts.allowInsecure ?? false, fields: opts.fields }, ctx, options);
}

function reader(table: string): TableClient {
  return TableClient.fromConnectionString(connectionString, table, insecure);
}

async function countEntities(table: string): Promise<number> {
  let n = 0;
  for await (const _ of reader(table).listEntities()) n++;
  return n;
}

const failure = deliveryFailure;

const prefix = uniquePrefix('lr');
let tableSeq = 0;
const newTable = () => `${prefix}t${++tableSeq}`;

describe('azure-table destination (Azurite)', () => {
  let proxy: TableFaultProxy;
  beforeAll(async () => { proxy = await TableFaultProxy.start(connectionString); });
  afterAll(async () => { await proxy.stop(); });
  beforeEach(() => proxy.clear());

  it('creates the table once and writes the documented entity', async () => {
    const table = newTable();
    const client = makeClient(table, { cs: proxy.connectionString, fields: { Campaign: 'mkt-{{extra.campaign}}', Seats: 12, Hot: true } });
    const r = await client.deliver({ ...base, extra: { campaign: 'spring' } });
    await client.deliver(leadN(2));
    await client.deliver(leadN(3));
    expect(proxy.count('createTable')).toBe(1);
    expect(r.remoteId).toBe(`${table}(PartitionKey='contoso.widget',RowKey='lead-1')`);

    const e = await reader(table).getEntity<Record<string, unknown>>('contoso.widget', 'lead-1');
    expect(e).toMatchObject({
      partitionKey: 'contoso.widget', rowKey: 'lead-1',
      ActionCode: 'INS', CreatedTime: '2026-03-04T05:06:07.000Z', Description: 'Test run',
      LeadSource: 'AzureMarketplace-INS|contoso.widget', OfferDisplayName: 'Contoso Widget',
      Campaign: 'mkt-spring', Seats: 12, Hot: true,
    });
    expect(JSON.parse(e.CustomerInfo as string)).toEqual({ FirstName: 'Some', LastName: 'One', Title: 'Esquire', Company: 'Contoso', Email: 'someone@contoso.com', Phone: '16175555555', Country: 'USA' });
    expect(await countEntities(table)).toBe(3);
  });

  it('sanitises keys the service would refuse', async () => {
    const table = newTable();
    await makeClient(table).deliver({ ...base, offer: 'contoso/widget#2?x\\y\tz\u0085' });
    const e = await reader(table).getEntity<Record<string, unknown>>('contoso_widget_2_x_y_z_', 'lead-1');
    expect(e.LeadSource).toBe('AzureMarketplace-INS|contoso/widget#2?x\\y\tz\u0085'); // the value itself is kept
  });

  it('counts 409 EntityAlreadyExists on a retry as delivered, without a second entity', async () => {
    const table = newTable();
    const client = makeClient(table);
    await client.deliver(base);
    const again = await client.deliver(base);
    expect(again.remoteId).toContain("RowKey='lead-1'");
    expect(await countEntities(table)).toBe(1);
  });

  it('recreates the table if it is deleted while running', async () => {
    const table = newTable();
    const client = makeClient(table);
    await client.deliver(leadN(1));
    await reader(table).deleteTable();
    await client.deliver(leadN(2));
    expect(await countEntities(table)).toBe(1);
  });

  it('delivers 100 leads of one partition in one transaction', async () => {
    const table = newTable();
    const leads = Array.from({ length: 100 }, (_, i) => leadN(i));
    const results = await makeClient(table, { cs: proxy.connectionString }).deliverBatch(leads);
    expect(results).toHaveLength(100);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(proxy.count('batch')).toBe(1);
    expect(proxy.count('createEntity')).toBe(0);
    expect(await countEntities(table)).toBe(100);
  });

  it('splits larger calls and mixed partitions into valid transactions, results in input order', async () => {
    const table = newTable();
    const leads = [
      ...Array.from({ length: 150 }, (_, i) => leadN(i)),
      ...Array.from({ length: 3 }, (_, i) => leadN(500 + i, { offer: 'fabrikam.app' })),
    ];
    const results = await makeClient(table, { cs: proxy.connectionString }).deliverBatch(leads);
    expect(results.map((r) => r.ok)).toEqual(leads.map(() => true));
    expect(results[151]).toEqual({ ok: true, remoteId: `${table}(PartitionKey='fabrikam.app',RowKey='lead-0501')` });
    expect(proxy.count('batch')).toBe(3);
    expect(await countEntities(table)).toBe(153);
  });

  it('falls back to per-entity creates when one entity already exists: all delivered, none twice', async () => {
    const table = newTable();
    const client = makeClient(table, { cs: proxy.connectionString });
    await client.deliver(leadN(37));
    proxy.clear();
    const results = await client.deliverBatch(Array.from({ length: 100 }, (_, i) => leadN(i)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(proxy.count('batch')).toBe(1);
    expect(proxy.count('createEntity')).toBe(100);
    expect(await countEntities(table)).toBe(100);
  });

  it('gives the one invalid entity of a refused transaction its own permanent error, and delivers the rest', async () => {
    const table = newTable();
    proxy.rejectRowKey('lead-0042', { code: 'EntityTooLarge', message: 'The entity is larger than the maximum allowed size (1MB).' });
    const leads = Array.from({ length: 100 }, (_, i) => leadN(i));
    const results = await makeClient(table, { cs: proxy.connectionString }).deliverBatch(leads);
    const failed = results.flatMap((r, i) => (r.ok ? [] : [{ i, error: r.error }]));
    expect(failed).toHaveLength(1);
    expect(failed[0]!.i).toBe(42);
    expect(failed[0]!.error).toBeInstanceOf(PayloadValidationError);
    expect(failed[0]!.error.destinationCode).toBe('EntityTooLarge');
    expect(failed[0]!.error.message).toContain('larger than the maximum allowed size');
    // Never reported delivered unless it is in the table.
    const stored = new Set<string>();
    for await (const e of reader(table).listEntities()) stored.add(e.rowKey!);
    expect(stored.size).toBe(99);
    results.forEach((r, i) => expect(stored.has(leads[i]!.id)).toBe(r.ok));
  });

  it('handles the same lead twice in one call (a transaction may hold an entity once)', async () => {
    const table = newTable();
    const results = await makeClient(table).deliverBatch([leadN(1), leadN(2), leadN(1)]);
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(await countEntities(table)).toBe(2);
  });

  it('rejects locally an entity that cannot fit, without failing the others', async () => {
    const table = newTable();
    const leads = [leadN(1), leadN(2, { description: 'x'.repeat(40_000) }), leadN(3)];
    const results = await makeClient(table, { fields: { Notes: '{{description}}' } }).deliverBatch(leads);
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect((results[1] as Extract<BatchItemResult, { ok: false }>).error).toBeInstanceOf(PayloadValidationError);
    expect(await countEntities(table)).toBe(2);
  });

  it('an over-long Description is truncated with a warning on the lead\'s timeline, alone and in a transaction', async () => {
    const table = newTable();
    const c = makeClient(table);
    const warning = "Azure Table property Description holds 32768 characters (64 KiB): the value (40000 characters) was truncated, ending '…[truncated by LeadRelay]'";
    const one = await c.deliver(leadN(1, { description: 'd'.repeat(40_000) }));
    expect(one.warnings).toEqual([warning]);
    const batch = await c.deliverBatch([leadN(2, { description: 'd'.repeat(40_000) }), leadN(3)]);
    expect(batch[0]).toMatchObject({ ok: true, warnings: [warning] });
    expect(batch[1]).toEqual({ ok: true, remoteId: expect.any(String) });
    const stored = await reader(table).getEntity<{ Description: string }>(base.offer, 'lead-0001');
    expect(stored.Description).toHaveLength(32_768);
  });

  it('check() proves the key without writing an entity', async () => {
    const table = newTable();
    const r = await makeClient(table).check();
    expect(r.ok).toBe(true);
    expect(await countEntities(table)).toBe(0);
  });
});

describe('azure-table destination: failures', () => {
  let proxy: TableFaultProxy;
  beforeAll(async () => { proxy = await TableFaultProxy.start(connectionString); });
  afterAll(async () => { await proxy.stop(); });
  beforeEach(() => proxy.clear());

  const WRONG_KEY = Buffer.from('LEADRELAY-WRONG-ACCOUNT-KEY-7f3e9a1c-0000000000').toString('base64');
  const wrongKeyCs = () => connectionString.replace(AZURITE_ACCOUNT_KEY, WRONG_KEY);

  it('a wrong AccountKey is an authentication failure naming connectionString, and never leaks the key', async () => {
    const client = makeClient(newTable(), { cs: wrongKeyCs() });
    const err = await failure(client.deliver(base));
    expect(err).toBeInstanceOf(InvalidAuthenticationError);
    expect(err.kind).toBe('configuration');
    expect(err.remediation).toContain('connectionString');
    const batchErr = await failure(client.deliverBatch([leadN(1), leadN(2)]));
    expect(batchErr).toBeInstanceOf(InvalidAuthenticationError);
    const checked = await client.check();
    expect(checked.ok).toBe(false);
    expect(checked.remediation).toContain('connectionString');
    const text = JSON.stringify([err.message, err.remediation, err.toJSON(), batchErr.message, checked]);
    expect(text).not.toContain(WRONG_KEY);
    expect(text).not.toContain(AZURITE_ACCOUNT_KEY);
  });

  it('403 AuthenticationFailed from the service is an authentication failure', async () => {
    proxy.failNext(1, { kind: 'createTable', status: 403, code: 'AuthenticationFailed', message: 'Server failed to authenticate the request.' });
    const err = await failure(makeClient(newTable(), { cs: proxy.connectionString }).deliver(base));
    expect(err).toBeInstanceOf(InvalidAuthenticationError);
    expect(err.destinationCode).toBe('AuthenticationFailed');
  });

  it('403 AuthorizationPermissionMismatch is a configuration failure, not a credential one', async () => {
    const table = newTable();
    await reader(table).createTable();
    proxy.failNext(1, { kind: 'createEntity', status: 403, code: 'AuthorizationPermissionMismatch', message: 'This request is not authorized to perform this operation using this permission.' });
    const err = await failure(makeClient(table, { cs: proxy.connectionString }).deliver(base));
    expect(err).toBeInstanceOf(InvalidConfigurationError);
    expect(err).not.toBeInstanceOf(InvalidAuthenticationError);
  });

  it('503 ServerBusy with Retry-After throttles for that long; without it, for a default', async () => {
    const client = makeClient(newTable(), { cs: proxy.connectionString });
    proxy.failNext(1, { kind: 'createEntity', status: 503, code: 'ServerBusy', message: 'The server is busy.', retryAfter: '5' })
      .failNext(1, { kind: 'createEntity', status: 503, code: 'ServerBusy', message: 'Operations per second is over the account limit.' });
    const a = await failure(client.deliver(base));
    expect(a).toBeInstanceOf(ThrottledError);
    expect((a as ThrottledError).retryAfterMs).toBe(5_000);
    const b = await failure(client.deliver(base));
    expect(b).toBeInstanceOf(ThrottledError);
    expect((b as ThrottledError).retryAfterMs).toBeGreaterThan(0);
    // One attempt each: the SDK itself did not retry (the engine does).
    expect(proxy.count('createEntity')).toBe(2);
  });

  it('a throttled transaction throttles the whole call', async () => {
    proxy.failNext(1, { kind: 'batch', status: 503, code: 'ServerBusy', message: 'The server is busy.', retryAfter: '2' });
    const err = await failure(makeClient(newTable(), { cs: proxy.connectionString }).deliverBatch([leadN(1), leadN(2)]));
    expect(err).toBeInstanceOf(ThrottledError);
  });

  it('5xx, a reset socket and a reply slower than the deadline are transient', async () => {
    const client = makeClient(newTable(), { cs: proxy.connectionString }, { requestTimeoutMs: 300 });
    proxy.failNext(1, { kind: 'createEntity', status: 500, code: 'InternalError', message: 'Server encountered an internal error.' })
      .failNext(1, { kind: 'createEntity', status: 500, code: 'OperationTimedOut', message: 'Operation could not be completed within the specified time.' })
      .failNext(1, { kind: 'createEntity', reset: true })
      .failNext(1, { kind: 'createEntity', delayMs: 3_000 });
    const errors = [];
    for (let i = 0; i < 4; i++) errors.push(await failure(client.deliver(base)));
    for (const e of errors) expect(e).toBeInstanceOf(RetryableError);
    expect(errors[0]!.destinationCode).toBe('InternalError');
    expect(errors[3]!.destinationCode).toBe('ETIMEDOUT');
    await client.deliver(base);
    expect(await countEntities(client['settings'].table)).toBe(1);
  });

  it('400 InvalidInput is permanent with the service message', async () => {
    proxy.failNext(1, { kind: 'createEntity', status: 400, code: 'InvalidInput', message: 'One of the request inputs is not valid.' });
    const err = await failure(makeClient(newTable(), { cs: proxy.connectionString }).deliver(base));
    expect(err).toBeInstanceOf(PayloadValidationError);
    expect(err.message).toContain('One of the request inputs is not valid.');
    expect(err.message).not.toContain('RequestId');
  });

  it('refuses plain http to a non-loopback host unless allowed, without leaking a SAS', async () => {
    const sas = 'sv=2019-02-02&ss=t&srt=sco&sp=rwdlacu&se=2099-01-01T00:00:00Z&sig=LEADRELAYSASSIGNATURE0123456789abcdef%3D';
    const cs = `TableEndpoint=http://azurite.invalid:10002/devstoreaccount1;SharedAccessSignature=${sas}`;
    const client = makeClient(newTable(), { cs });
    const err = await failure(client.deliver(base));
    expect(err).toBeInstanceOf(InvalidConfigurationError);
    expect(err.remediation).toContain('allowInsecure');
    const checked = await client.check();
    expect(checked.ok).toBe(false);
    const text = JSON.stringify([err.message, err.remediation, checked]);
    expect(text).not.toContain('LEADRELAYSASSIGNATURE');
  });

  it('an unusable connection string is a configuration failure at delivery and check, not a crash', async () => {
    const client = makeClient(newTable(), { cs: `AccountName=acct;AccountKey=${WRONG_KEY}` });
    const err = await failure(client.deliver(base));
    expect(err).toBeInstanceOf(InvalidConfigurationError);
    expect(err.remediation).toContain('connectionString');
    expect(JSON.stringify([err.message, err.remediation])).not.toContain(WRONG_KEY);
    expect((await client.check()).ok).toBe(false);
  });
});
