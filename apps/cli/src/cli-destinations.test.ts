import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '@leadrelay/config';
import { DeliveryService } from '@leadrelay/delivery';
import { LeadRelayMetrics, silentLogger } from '@leadrelay/observability';
import { FakeSalesforce } from '../../../test/fakes/salesforce/index.js';
import { DestinationFakes } from '../../../test/helpers/destination-fakes.js';
import { readTlsCert } from '../../../test/helpers/tls-cert.js';
import { uniquePrefix } from '../../../test/helpers/unique.js';
import { runCli } from '../../../test/helpers/run-cli.js';

const cli = runCli;

/** `check` and `test-lead` against every destination type, through the real clients and the fake servers. */
describe('leadrelay check / test-lead for all five destination types', () => {
  let fakes: DestinationFakes;
  let sf: FakeSalesforce;
  let service: DeliveryService;
  let configPath: string;
  const dir = mkdtempSync(join(tmpdir(), 'leadrelay-cli5-'));

  beforeAll(async () => {
    fakes = await DestinationFakes.start({ azuriteConnectionString: inject('azuriteConnectionString'), tls: readTlsCert(inject('tlsCert')) });
    sf = await FakeSalesforce.start();
    configPath = join(dir, 'leadrelay.yaml');
    writeFileSync(configPath, `
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('cli5')} }
intake: { apiKeys: ["cli-test-key-0123456789"] }
destinations:
${fakes.destinationsYaml()}
  - { id: w2l, type: salesforce, mode: web-to-lead, oid: "${sf.orgId}", url: "${sf.webToLeadUrl}" }
  - { id: sfapi, type: salesforce, mode: api, loginUrl: "${sf.url}", clientId: "${sf.clientId}", clientSecret: "${sf.clientSecret}" }
  - { id: broken, type: salesforce, mode: api, loginUrl: "${sf.url}", clientId: "${sf.clientId}", clientSecret: "wrong-secret-value", enabled: false }
`);
    service = new DeliveryService({ config: loadConfig(configPath), logger: silentLogger, metrics: new LeadRelayMetrics({ defaultMetrics: false }) });
    await service.start();
  }, 60_000);
  afterAll(async () => {
    await service?.stop(2000);
    await fakes?.stop();
    await sf?.close();
  });

  it('check proves every configured destination without creating a lead', async () => {
    const r = await cli('check', '--json', '--config', configPath);
    const results = JSON.parse(r.out) as { destination: string; type: string; ok: boolean; message: string }[];
    expect(results.map((x) => [x.destination, x.type, x.ok])).toEqual([
      ['hook', 'https', true], ['table', 'azure-table', true], ['crm', 'dynamics', true], ['mkto', 'marketo', true],
      ['w2l', 'salesforce', true], ['sfapi', 'salesforce', true],
    ]);
    expect(r.code).toBe(0);
    expect(fakes.dv.leads.size).toBe(0);
    expect(fakes.marketo.uniqueLeadCount).toBe(0);
    expect(sf.leads).toHaveLength(0);
    expect(sf.webToLead).toHaveLength(0);
  });

  it('a failing check exits 1 with a readable remediation and no secret', async () => {
    const r = await cli('check', 'broken', '--config', configPath);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^FAIL {2}broken \(salesforce\): /m);
    expect(r.out).toMatch(/what to do: .*clientSecret/i);
    expect(r.out + r.err).not.toContain('wrong-secret-value');
  });

  it('test-lead reaches every destination type as a MSFT_TEST lead', async () => {
    const r = await cli('test-lead', 'hook', 'table', 'crm', 'mkto', 'w2l', 'sfapi', '--json', '--timeout', '60s', '--config', configPath);
    const body = JSON.parse(r.out) as { id: string; deliveries: Record<string, { state: string; remoteId?: string }> };
    expect(Object.fromEntries(Object.entries(body.deliveries).map(([d, x]) => [d, x.state]))).toEqual({
      hook: 'delivered', table: 'delivered', crm: 'delivered', mkto: 'delivered', w2l: 'delivered', sfapi: 'delivered',
    });
    expect(r.code).toBe(0);
    expect(body.id).toMatch(/^MSFT_TEST_\d+$/);
    expect((await fakes.tableEntities()).map((e) => e.rowKey)).toContain(body.id);
    expect(fakes.dv.leads.size).toBe(1);
    expect(fakes.marketo.leads.map((l) => l.fields.email)).toEqual([`${body.id}@test.com`]);
    expect(sf.webToLead).toHaveLength(1);
    expect(sf.leads).toHaveLength(1);
    expect(body.deliveries.sfapi!.remoteId).toMatch(/^00Q/);
  }, 90_000);
});

describe('leadrelay test-lead at a throttled destination', () => {
  it('says until when the destination holds its leads, not "is a worker running?", and exits 1', async () => {
    const { WebhookReceiver } = await import('../../../test/fakes/webhook-receiver/index.js');
    const receiver = await WebhookReceiver.start({ defaultReply: { status: 429, headers: { 'retry-after': '3600' }, body: { error: 'slow down' } } });
    const configPath = join(mkdtempSync(join(tmpdir(), 'leadrelay-throttled-')), 'leadrelay.yaml');
    writeFileSync(configPath, `
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('cli-thr')} }
intake: { apiKeys: ["cli-test-key-0123456789"] }
destinations:
  - { id: slow, type: https, url: "${receiver.url('/slow')}" }
`);
    const service = new DeliveryService({ config: loadConfig(configPath), logger: silentLogger, metrics: new LeadRelayMetrics({ defaultMetrics: false }) });
    await service.start();
    try {
      const r = await cli('test-lead', 'slow', '--timeout', '4s', '--config', configPath);
      expect(r.code).toBe(1);
      expect(receiver.requests.length).toBeGreaterThanOrEqual(1);
      const m = /slow: still waiting: the destination is throttled until (\S+); the test lead is delivered after that\./.exec(r.out);
      expect(m, r.out).not.toBeNull();
      // Retry-After: 3600 from the first answer: held for about an hour from now.
      expect(Date.parse(m![1]!) - Date.now()).toBeGreaterThan(3_000_000);
      expect(r.out).not.toContain('is a worker running');
    } finally {
      await service.stop(2000);
      await receiver.stop();
    }
  }, 30_000);
});
