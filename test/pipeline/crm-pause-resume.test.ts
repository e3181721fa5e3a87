import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FakeSalesforce } from '../fakes/salesforce/index.js';
import { TOKEN_ERRORS } from '../fakes/salesforce/salesforce-wire.js';
import { leadRecordId } from '../../packages/destinations/src/dynamics/lead-record-id.js';
import { DestinationFakes } from '../helpers/destination-fakes.js';
import { readTlsCert } from '../helpers/tls-cert.js';
import { Pipeline, marketplaceLead, pipelineConfig } from './pipeline-harness.js';

/**
 * The paused-then-resumed path for each CRM: a credential or permission failure pauses the
 * destination with a remediation, leads wait, and `resume` after the fix delivers every one of them.
 */
describe('CRM destinations: paused on a configuration failure, resumed without loss', () => {
  let fakes: DestinationFakes;
  let sf: FakeSalesforce;
  let p: Pipeline;

  beforeAll(async () => {
    fakes = await DestinationFakes.start({ azuriteConnectionString: inject('azuriteConnectionString'), tls: readTlsCert(inject('tlsCert')) });
    sf = await FakeSalesforce.start();
    const crm = fakes.destinationsYaml().split('\n  - id: ').filter((b) => b.startsWith('crm') || b.startsWith('mkto')).map((b) => `  - id: ${b}`).join('\n');
    p = new Pipeline(pipelineConfig(`${crm}
  - { id: sfapi, type: salesforce, mode: api, loginUrl: "${sf.url}", clientId: "${sf.clientId}", clientSecret: "${sf.clientSecret}" }`));
    await p.startWorkers();
  }, 60_000);
  afterAll(async () => {
    await p?.close();
    await fakes?.stop();
    await sf?.close();
  });

  // Every lead goes to all three destinations; each test looks for its own leads in the store.
  const pausedThenResumed = async (destination: string, breakIt: () => void, fixIt: () => void, remediation: RegExp) => {
    await p.waitIdle();
    breakIt();
    const leads = [marketplaceLead()];
    await p.accept(leads[0]!);
    const paused = await p.waitForState(leads[0]!.id, destination, ['paused']);
    expect(paused.deliveries[destination]!.remediation).toMatch(remediation);
    expect((await p.relay.stats(destination)).state).toBe('paused');
    // More leads queue up behind the pause, untried.
    leads.push(marketplaceLead(), marketplaceLead());
    for (const l of leads.slice(1)) await p.accept(l);
    for (const l of leads.slice(1)) expect((await p.waitForState(l.id, destination, ['paused'])).deliveries[destination]!.attempts).toBe(0);
    fixIt();
    await p.relay.resume(destination);
    for (const l of leads) await p.waitForState(l.id, destination, ['delivered'], 30_000);
    expect(await p.relay.deadLetters({ destination })).toHaveLength(0);
    return leads;
  };

  it('Dynamics: an invalid client secret (AADSTS7000215)', async () => {
    const leads = await pausedThenResumed('crm',
      () => fakes.ad.injectTokenFault({ kind: 'aadsts', code: 7000215 }, 1_000),
      () => fakes.ad.clearFaults(),
      /auth\.clientSecret/);
    for (const l of leads) expect(fakes.dv.leads.has(leadRecordId(l.id))).toBe(true);
  });

  it('Marketo: access denied (603)', async () => {
    const leads = await pausedThenResumed('mkto', () => fakes.marketo.denyAccess(true), () => fakes.marketo.denyAccess(false), /permission|allowlist/i);
    const emails = fakes.marketo.leads.map((l) => String(l.fields.email).toLowerCase());
    for (const l of leads) expect(emails).toContain(l.customer.email!.toLowerCase());
  });

  it('Salesforce API: invalid client credentials', async () => {
    const leads = await pausedThenResumed('sfapi',
      // The secret is rotated at Salesforce: the session ends and new tokens are refused.
      () => { sf.inject({ route: 'token', times: 1_000, answer: TOKEN_ERRORS.invalid_client }); sf.expireSessions(); },
      () => sf.reset(),
      /clientSecret|client secret/i);
    const emails = sf.leads.map((l) => String(l.record.Email));
    for (const l of leads) expect(emails).toContain(l.customer.email);
  });
});
