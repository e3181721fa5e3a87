import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { leadRecordId } from '../../packages/destinations/src/dynamics/lead-record-id.js';
import { FakeSalesforce } from '../fakes/salesforce/index.js';
import { DestinationFakes } from '../helpers/destination-fakes.js';
import { readTlsCert } from '../helpers/tls-cert.js';
import { Pipeline, marketplaceLead, pipelineConfig } from './pipeline-harness.js';

/**
 * Leads through intake's queue and the real worker into CRM orgs set up the ordinary way: Salesforce with
 * State & Country picklists, a restricted LeadSource picklist, an admin-shortened FirstName and an external-ID
 * field; Web-to-Lead with picklists; Dynamics with a role that may create but not update leads. Every lead is
 * delivered once, and what was changed to make it fit is on its timeline.
 */
describe('CRM destinations in real-org setups', () => {
  let fakes: DestinationFakes;
  let sf: FakeSalesforce;
  let w2l: FakeSalesforce;
  let p: Pipeline;
  const OID = '00D5g000004abcd';

  beforeAll(async () => {
    fakes = await DestinationFakes.start({ azuriteConnectionString: inject('azuriteConnectionString'), tls: readTlsCert(inject('tlsCert')) });
    sf = await FakeSalesforce.start({
      fieldLengths: { FirstName: 20 }, externalIdFields: { LeadRelay_Id__c: { unique: true } },
      leadSourcePicklist: { restricted: true, values: ['Web', 'Marketplace'] },
    });
    w2l = await FakeSalesforce.start({ orgId: OID });
    fakes.dv.privileges = { create: true, write: false };
    const crm = fakes.destinationsYaml().split('\n  - id: ').filter((b) => b.startsWith('crm')).map((b) => `  - id: ${b}`).join('\n');
    p = new Pipeline(pipelineConfig(`${crm}
  - { id: sfapi, type: salesforce, mode: api, loginUrl: "${sf.url}", clientId: "${sf.clientId}", clientSecret: "${sf.clientSecret}", externalIdField: LeadRelay_Id__c, leadSource: { fallback: Marketplace } }
  - { id: sfw2l, type: salesforce, mode: web-to-lead, oid: "${OID}EAA", url: "${w2l.webToLeadUrl}" }`));
    await p.startWorkers();
  }, 60_000);
  afterAll(async () => {
    await p?.close();
    await fakes?.stop();
    await sf?.close();
    await w2l?.close();
  });

  it('delivers with truncation and picklist warnings on the timeline; a lost answer is retried into the same record', async () => {
    // The first write at each CRM commits and loses its answer; the retry must not create a second record.
    sf.inject({ route: 'upsert-lead', action: 'reset-after-commit' });
    fakes.dv.injectFault({ kind: 'reset-after-write' });
    const lead = marketplaceLead({ UserDetails: { FirstName: 'Ярослава-Анастасия Константиновна', LastName: 'Иванова', Email: `ya-${Date.now()}@contoso.com`, Company: 'C'.repeat(120), Country: 'United Kingdom' } });
    const id = await p.accept(lead);
    for (const d of ['sfapi', 'sfw2l', 'crm']) await p.waitForState(id, d, ['delivered'], 30_000);
    const status = (await p.relay.status(id))!;

    const sfLeads = sf.leads.filter((l) => l.record.LeadRelay_Id__c === id);
    expect(sfLeads).toHaveLength(1);
    expect(sfLeads[0]!.record).toMatchObject({ FirstName: 'Ярослава-Анастасия Константиновна'.slice(0, 20), CountryCode: 'GB', LeadSource: 'Marketplace' });
    expect(sf.requestsTo('upsert-lead')).toHaveLength(2);
    expect(w2l.webToLead.map((l) => l.outcome)).toEqual(['created']);
    expect(w2l.webToLead[0]!.fields).toMatchObject({ oid: OID, country_code: 'GB' });
    expect(fakes.dv.leads.get(leadRecordId(id))).toMatchObject({ companyname: 'C'.repeat(100) });
    expect(fakes.dv.leadWrites.filter((w) => w.path.includes(leadRecordId(id))).map((w) => w.outcome)).toEqual(['reset', 412]);

    const delivered = (d: string) => status.timeline.find((t) => t.destination === d && t.outcome === 'delivered')!;
    expect(delivered('sfapi').warnings).toEqual([
      "Salesforce LeadSource is a restricted picklist without this lead's value: sent leadSource.fallback 'Marketplace'",
      'Salesforce Lead field FirstName holds 20 characters: the value (33 characters) was truncated',
    ]);
    expect(delivered('crm').warnings).toEqual(['Dynamics lead field companyname holds 100 characters: the value (120 characters) was truncated']);
    expect(delivered('sfw2l').warnings).toBeUndefined();
    // Timelines name fields and lengths, never the customer's values.
    expect(JSON.stringify(status.timeline)).not.toContain('Ярослава');
  });
});
