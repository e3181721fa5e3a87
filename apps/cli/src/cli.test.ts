import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '@leadrelay/config';
import { parseJsonLead } from '@leadrelay/core';
import { DeliveryService } from '@leadrelay/delivery';
import { LeadRelayMetrics, silentLogger } from '@leadrelay/observability';
import { Relay } from '@leadrelay/queue';
import { WebhookReceiver } from '../../../test/fakes/webhook-receiver/index.js';
import { uniquePrefix } from '../../../test/helpers/unique.js';
import { runCli } from '../../../test/helpers/run-cli.js';

const cli = runCli;

describe('leadrelay CLI', () => {
  let receiver: WebhookReceiver;
  let configPath: string;
  let relay: Relay;
  let service: DeliveryService;
  const dir = mkdtempSync(join(tmpdir(), 'leadrelay-cli-'));

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    configPath = join(dir, 'leadrelay.yaml');
    writeFileSync(configPath, `
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('cli')} }
intake: { apiKeys: ["cli-test-key-0123456789"] }
retry: { attempts: 2, initialDelay: 50ms, maxDelay: 100ms }
destinations:
  - { id: hook, type: https, url: "${receiver.url('/hook')}" }
  - { id: spare, type: https, url: "${receiver.url('/spare')}", match: { actions: [PLT] } }
`);
    const config = loadConfig(configPath);
    relay = new Relay(config);
    service = new DeliveryService({ config, logger: silentLogger, metrics: new LeadRelayMetrics({ defaultMetrics: false }) });
    await service.start();
  });
  afterAll(async () => {
    await service.stop(2000);
    await relay.close();
    await receiver.stop();
  });

  const accept = async (email: string) => {
    const r = parseJsonLead({ UserDetails: { Email: email, LastName: 'Doe' }, LeadSource: 'AzureMarketplace-INS|contoso.widget', ActionCode: 'INS' });
    if (!r.ok) throw new Error('bad lead');
    return (await relay.accept(r.lead, { clientId: false })).id;
  };
  const until = async (check: () => Promise<boolean>) => {
    for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 25));
  };

  it('validate: exit 0 and a summary for a good file, exit 1 with file:line:col for a bad one', async () => {
    const ok = await cli('validate', '--config', configPath, '--json');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ valid: true, destinations: [{ id: 'hook', type: 'https' }, { id: 'spare', type: 'https' }] });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'intake:\n  apiKeys: [short]\n  bogus: 1\ndestinations: []\n');
    const r = await cli('validate', '--config', bad);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${bad}:2:13`);
    expect(r.err).toContain(`${bad}:3:3`);
    expect(r.err).toMatch(/bogus/);
    const json = await cli('validate', '--config', bad, '--json');
    expect(json.code).toBe(1);
    const body = JSON.parse(json.out);
    expect(body).toMatchObject({ valid: false, file: bad });
    expect(body.problems.length).toBeGreaterThanOrEqual(2);
  });

  it('--version prints the version and exits 0', async () => {
    const r = await cli('--version');
    expect(r.code).toBe(0);
    expect(r.out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('bad usage exits 2', async () => {
    expect((await cli('frobnicate')).code).toBe(2);
    expect((await cli('dlq', 'replay', '--config', configPath)).code).toBe(2);
    expect((await cli('pause', 'nope', '--config', configPath)).code).toBe(2);
  });

  it('status and stats show a delivered lead (text and --json)', async () => {
    const id = await accept('status@contoso.com');
    await until(async () => (await relay.status(id))?.deliveries.hook?.state === 'delivered');
    const json = await cli('status', id, '--config', configPath, '--json');
    expect(json.code).toBe(0);
    const body = JSON.parse(json.out);
    expect(body).toMatchObject({ id, testLead: false, deliveries: { hook: { state: 'delivered', attempts: 1 }, spare: { state: 'skipped' } } });
    expect(body.timeline[0]).toMatchObject({ destination: 'hook', outcome: 'delivered' });
    // The same customer action from a table source merges into it: the text lists both arrivals.
    const again = parseJsonLead({ id: 'row-1', UserDetails: { Email: 'status@contoso.com' }, LeadSource: 'AzureMarketplace-INS|contoso.widget', ActionCode: 'INS' });
    if (!again.ok) throw new Error('bad lead');
    expect(await relay.accept(again.lead, { clientId: true, origin: 'azure-table:old' })).toMatchObject({ id, mergedFrom: 'row-1' });
    const text = await cli('status', id, '--config', configPath);
    expect(text.out).toMatch(/hook\s+delivered\s+1/);
    expect(text.out).toMatch(/arrived from:\n\s+\S+\s+unknown\s+as \S+\n\s+\S+\s+azure-table:old\s+as row-1/);
    const stats = JSON.parse((await cli('stats', '--json', '--config', configPath)).out);
    expect(stats).toEqual(expect.arrayContaining([expect.objectContaining({ destination: 'hook', type: 'https', state: 'running' })]));
    expect(stats.find((s: { destination: string }) => s.destination === 'hook').delivered).toBeGreaterThanOrEqual(1);
    const hook = stats.find((s: { destination: string }) => s.destination === 'hook');
    expect(hook).toMatchObject({ deliveredLastHour: expect.any(Number), failedAttemptsLastDay: expect.any(Number), successRateLastHour: expect.any(Number), lastSuccessAt: expect.any(String) });
    const statsText = (await cli('stats', '--config', configPath)).out;
    expect(statsText).toMatch(/OK 1H\/24H\s+LASTSUCCESS/);
    expect((await cli('status', 'no-such-lead', '--config', configPath)).code).toBe(1);
  });

  it('dlq list, replay and purge', async () => {
    receiver.failNext(2, 422, { body: { error: 'rejected by test' } });
    const a = await accept('dlq-a@contoso.com');
    const b = await accept('dlq-b@contoso.com');
    await until(async () => (await relay.deadLetters({ destination: 'hook' })).length === 2);
    const list = JSON.parse((await cli('dlq', 'list', '--destination', 'hook', '--json', '--config', configPath)).out);
    expect(list.map((d: { leadId: string }) => d.leadId).sort()).toEqual([a, b].sort());
    expect(list[0]).toEqual({ leadId: expect.any(String), destination: 'hook', attempts: 1, lastError: expect.stringContaining('rejected by test'), remediation: expect.stringMatching(/replay/), failedAt: expect.any(String) });

    const replay = await cli('dlq', 'replay', '--id', a, '--json', '--config', configPath);
    expect(JSON.parse(replay.out)).toEqual({ replayed: 1 });
    await until(async () => (await relay.status(a))?.deliveries.hook?.state === 'delivered');
    expect((await relay.status(a))?.deliveries.hook?.state).toBe('delivered');

    const refused = await cli('dlq', 'purge', '--all', '--config', configPath);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/--yes/);
    const purge = await cli('dlq', 'purge', '--all', '--yes', '--json', '--config', configPath);
    expect(JSON.parse(purge.out)).toEqual({ purged: 1 });
    expect(await relay.deadLetters({})).toHaveLength(0);
  });

  it('pause holds leads and resume delivers them', async () => {
    expect((await cli('pause', 'hook', '--reason', 'CRM maintenance until 18:00', '--config', configPath)).code).toBe(0);
    const pausedText = (await cli('stats', '--config', configPath)).out;
    expect(pausedText).toContain('hook is paused (by an operator at ');
    expect(pausedText).toContain('CRM maintenance until 18:00');
    expect(pausedText).toMatch(/what to do: Paused by an operator/);
    const before = receiver.requestCount;
    const id = await accept('paused@contoso.com');
    await until(async () => (await relay.status(id))?.deliveries.hook?.state === 'paused');
    const stats = JSON.parse((await cli('stats', '--json', '--config', configPath)).out);
    expect(stats.find((s: { destination: string }) => s.destination === 'hook').state).toBe('paused');
    expect(receiver.requestCount).toBe(before);
    expect((await cli('resume', 'hook', '--config', configPath)).code).toBe(0);
    await until(async () => (await relay.status(id))?.deliveries.hook?.state === 'delivered');
    expect((await relay.status(id))?.deliveries.hook?.state).toBe('delivered');
  });

  it('check and test-lead report per destination', async () => {
    const check = await cli('check', 'hook', '--json', '--config', configPath);
    expect(check.code).toBe(0);
    expect(JSON.parse(check.out)).toEqual([expect.objectContaining({ destination: 'hook', type: 'https', ok: true })]);
    const t = await cli('test-lead', 'hook', '--json', '--config', configPath, '--timeout', '20s');
    expect(t.code).toBe(0);
    const body = JSON.parse(t.out);
    expect(body.id).toMatch(/^MSFT_TEST_\d{18}$/);
    expect(body.deliveries).toEqual({ hook: expect.objectContaining({ state: 'delivered' }) });
    const sent = receiver.requests.at(-1)!.json as { UserDetails: { Email: string } };
    expect(sent.UserDetails.Email).toBe(`${body.id}@test.com`);
  });

  it('fails with an explanation when Redis is unreachable', async () => {
    const cfg = join(dir, 'noredis.yaml');
    writeFileSync(cfg, `redis: { url: "redis://:hunter2secret@127.0.0.1:1" }\nintake: { apiKeys: ["cli-test-key-0123456789"] }\ndestinations:\n  - { id: hook, type: https, url: "https://example.com/x" }\n`);
    const r = await cli('stats', '--config', cfg);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/Redis at redis:\/\/127\.0\.0\.1:1 is not reachable/);
    expect(r.err).not.toContain('hunter2secret');
  }, 30_000);
});
