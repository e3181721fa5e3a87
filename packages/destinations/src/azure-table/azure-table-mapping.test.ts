import { describe, expect, it } from 'vitest';
import { InvalidConfigurationError, PayloadValidationError, type Lead } from '@leadrelay/core';
import { MAX_KEY_CHARS, fieldsProblems, leadEntity, partitionKeyOf, propertyNameProblem, rowKeyOf, sanitiseKey } from './azure-table-mapping.js';
import { azureTable } from './index.js';

const lead: Lead = {
  id: 'lead-42',
  source: 'SPZA',
  action: 'PLT',
  offer: 'contoso.crm-connector',
  offerTitle: 'Contoso CRM Connector',
  customer: { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@contoso.com', phone: '+44 20 7946 0000', country: 'GB', company: 'Contoso', title: 'CTO' },
  description: 'Wants a demo',
  createdAt: '2026-02-03T04:05:06.000Z',
  testLead: false,
};

describe('azure-table keys', () => {
  it('replaces / \\ # ? and control characters (C0, DEL, C1) with _', () => {
    expect(sanitiseKey('a/b\\c#d?e')).toBe('a_b_c_d_e');
    expect(sanitiseKey('t\tn\nr\r\u0000\u001f')).toBe('t_n_r___');
    expect(sanitiseKey('del\u007f c1\u0080\u0085\u009f ok\u00a0é')).toBe('del_ c1___ ok\u00a0é');
  });

  it('keeps keys within 1 KiB (512 UTF-16 units), distinct when long inputs differ only at the end', () => {
    const a = sanitiseKey('o'.repeat(600) + 'A');
    const b = sanitiseKey('o'.repeat(600) + 'B');
    expect(a.length).toBeLessThanOrEqual(MAX_KEY_CHARS);
    expect(a).not.toBe(b);
    expect(sanitiseKey('o'.repeat(MAX_KEY_CHARS))).toBe('o'.repeat(MAX_KEY_CHARS));
    const emoji = sanitiseKey('😀'.repeat(400));
    expect(emoji.length).toBeLessThanOrEqual(MAX_KEY_CHARS);
    expect(emoji).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/); // no lone high surrogate
  });

  it('PartitionKey is the sanitised offer; RowKey is the lead id, made unique if it ever needs sanitising', () => {
    expect(partitionKeyOf({ offer: 'contoso.crm/connector#1' })).toBe('contoso.crm_connector_1');
    expect(rowKeyOf({ id: 'lead-42' })).toBe('lead-42');
    expect(rowKeyOf({ id: 'a/b' })).not.toBe(rowKeyOf({ id: 'a#b' }));
    expect(rowKeyOf({ id: 'a/b' })).toMatch(/^a_b~[0-9a-f]{16}$/);
  });
});

describe('azure-table entity', () => {
  it('maps a lead to Microsoft\'s entity shape', () => {
    const { entity, truncated, warnings } = leadEntity(lead);
    expect(truncated).toEqual([]);
    expect(warnings).toEqual([]);
    expect(entity).toEqual({
      partitionKey: 'contoso.crm-connector',
      rowKey: 'lead-42',
      ActionCode: 'PLT',
      CreatedTime: '2026-02-03T04:05:06.000Z',
      CustomerInfo: '{"FirstName":"Ada","LastName":"Lovelace","Title":"CTO","Company":"Contoso","Email":"ada@contoso.com","Phone":"+44 20 7946 0000","Country":"GB"}',
      Description: 'Wants a demo',
      LeadSource: 'SPZA-PLT|contoso.crm-connector',
      OfferDisplayName: 'Contoso CRM Connector',
    });
  });

  it('writes absent values as empty strings', () => {
    const { entity } = leadEntity({ ...lead, customer: {}, description: undefined, offerTitle: undefined });
    expect(JSON.parse(entity.CustomerInfo as string)).toEqual({ FirstName: '', LastName: '', Title: '', Company: '', Email: '', Phone: '', Country: '' });
    expect(entity.Description).toBe('');
    expect(entity.OfferDisplayName).toBe('');
  });

  it('adds and overrides properties from fields:, typed', () => {
    const { entity } = leadEntity(lead, { LeadSource: '{{source}}', Campaign: 'mkt-{{action}}', Seats: 12, Revenue: 3_000_000_000, Hot: true });
    expect(entity.LeadSource).toBe('SPZA');
    expect(entity.Campaign).toBe('mkt-PLT');
    expect(entity.Seats).toBe(12);
    expect(entity.Revenue).toEqual({ value: 3_000_000_000, type: 'Double' });
    expect(entity.Hot).toBe(true);
  });

  it('truncates an over-long Description and reports it, but refuses other over-long values', () => {
    const long = 'd'.repeat(40_000);
    const { entity, truncated, warnings } = leadEntity({ ...lead, description: long });
    expect(truncated).toEqual(['Description']);
    expect(warnings).toEqual(["Azure Table property Description holds 32768 characters (64 KiB): the value (40000 characters) was truncated, ending '…[truncated by LeadRelay]'"]);
    expect((entity.Description as string).length).toBeLessThanOrEqual(32_768);
    expect(entity.Description).toMatch(/truncated by LeadRelay\]$/);
    expect(() => leadEntity({ ...lead, description: long }, { Notes: '{{description}}' })).toThrow(PayloadValidationError);
  });

  it('refuses property names the service cannot take', () => {
    expect(propertyNameProblem('CrmCampaign')).toBeUndefined();
    expect(propertyNameProblem('_x1')).toBeUndefined();
    for (const bad of ['crm-campaign', '1st', 'a.b', 'PartitionKey', 'rowKey', 'Timestamp', 'odataType', 'x'.repeat(256), 'with space']) {
      expect(propertyNameProblem(bad), bad).toBeDefined();
    }
    expect(() => leadEntity(lead, { 'crm-campaign': 'x' })).toThrow(InvalidConfigurationError);
  });

  it('counts properties against the 252 limit', () => {
    const many = Object.fromEntries(Array.from({ length: 246 }, (_, i) => [`P${i}`, 'v']));
    expect(fieldsProblems(many)).toEqual([]);
    expect(fieldsProblems({ ...many, P246: 'v' })).toHaveLength(1);
    expect(() => leadEntity(lead, { ...many, P246: 'v' })).toThrow(InvalidConfigurationError);
  });

  it('the definition batches by sanitised partition, at most 100 per call', () => {
    const batching = azureTable.batching!({ connectionString: 'UseDevelopmentStorage=true', table: 'Leads', id: 't', type: 'azure-table', enabled: true, allowInsecure: false });
    expect(batching!.maxSize).toBe(100);
    expect(batching!.key!({ ...lead, offer: 'a/b' })).toBe(batching!.key!({ ...lead, id: 'other', offer: 'a#b' }));
    expect(batching!.key!(lead)).not.toBe(batching!.key!({ ...lead, offer: 'fabrikam.app' }));
  });

  it('config validation reports bad fields: names at their path', () => {
    const problems: string[] = [];
    azureTable.refine!({ connectionString: 'UseDevelopmentStorage=true', table: 'Leads', fields: { 'bad-name': 'x', Good: 'y' } } as never,
      (path, message) => problems.push(`${path.join('.')}: ${message}`));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^fields\.bad-name: must be a C#-style identifier/);
  });
});
