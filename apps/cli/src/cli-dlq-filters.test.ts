import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '@leadrelay/config';
import { WebhookReceiver } from '../../../test/fakes/webhook-receiver/index.js';
import { runCli } from '../../../test/helpers/run-cli.js';
import { uniquePrefix } from '../../../test/helpers/unique.js';
import { Pipeline, marketplaceLead } from '../../../test/pipeline/pipeline-harness.js';

/** `dlq list|replay|purge` by time window, error code and offer, with --dry-run: bulk work on the right dead letters only. */
describe('leadrelay dlq filters', () => {
  let receiver: WebhookReceiver;
  let p: Pipeline;
  let configPath: string;
  const contoso: string[] = [];
  let fabrikam: string;
  let between: string;

  const listed = async (...args: string[]) => {
    const r = await runCli('dlq', 'list', '--json', '--config', configPath, ...args);
    expect(r.code, r.err).toBe(0);
    return (JSON.parse(r.out) as { leadId: string }[]).map((d) => d.leadId).sort();
  };

  beforeAll(async () => {
    receiver = await WebhookReceiver.start({ defaultReply: { status: 400, body: { error: 'field Company is required' } } });
    configPath = join(mkdtempSync(join(tmpdir(), 'leadrelay-dlqf-')), 'leadrelay.yaml');
    writeFileSync(configPath, `
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('dlqf')} }
intake: { apiKeys: ["dlq-filter-key-0123456789"] }
retry: { attempts: 2, initialDelay: 50ms, maxDelay: 100ms }
dedupe: { window: 0s }
destinations:
  - { id: hook, type: https, url: "${receiver.url('/hook')}" }
`);
    p = new Pipeline(loadConfig(configPath));
    await p.startWorkers();
    for (let i = 0; i < 2; i++) contoso.push(await p.accept(marketplaceLead()));
    for (const id of contoso) await p.waitForState(id, 'hook', ['dead']);
    await new Promise((r) => setTimeout(r, 30));
    between = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 30));
    fabrikam = await p.accept(marketplaceLead({ LeadSource: 'AzureMarketplace-INS|fabrikam.app' }));
    await p.waitForState(fabrikam, 'hook', ['dead']);
  }, 60_000);
  afterAll(async () => {
    await p?.close();
    await receiver?.stop();
  });

  it('lists by offer glob, by time window and by code', async () => {
    expect(await listed()).toEqual([...contoso, fabrikam].sort());
    expect(await listed('--offer', 'fabrikam.*')).toEqual([fabrikam]);
    expect(await listed('--offer', 'CONTOSO.wid?et')).toEqual([...contoso].sort());
    expect(await listed('--until', between)).toEqual([...contoso].sort());
    expect(await listed('--since', between)).toEqual([fabrikam]);
    expect(await listed('--since', '1h', '--until', between)).toEqual([...contoso].sort());
    expect(await listed('--code', 'lr_payload_rejected')).toEqual([...contoso, fabrikam].sort());
    expect(await listed('--code', 'LR_TRANSIENT')).toEqual([]);
  });

  it('a time that is neither a duration nor an ISO time is a usage error (exit 2)', async () => {
    const r = await runCli('dlq', 'list', '--since', 'yesterday', '--config', configPath);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--since: 'yesterday' is neither a duration like 1d nor an ISO time");
  });

  it('--dry-run counts and changes nothing; purge and replay act on the filtered ones only', async () => {
    const dry = await runCli('dlq', 'replay', '--all', '--offer', 'contoso.*', '--dry-run', '--json', '--config', configPath);
    expect(JSON.parse(dry.out)).toEqual({ wouldReplay: 2 });
    const dryPurge = await runCli('dlq', 'purge', '--all', '--since', between, '--dry-run', '--config', configPath);
    expect(dryPurge.out).toContain('would purge 1 dead delivery (nothing changed)');
    expect(await listed()).toHaveLength(3);

    const purged = await runCli('dlq', 'purge', '--all', '--since', between, '--yes', '--json', '--config', configPath);
    expect(JSON.parse(purged.out)).toEqual({ purged: 1 });
    expect(await listed()).toEqual([...contoso].sort());

    receiver.setDefaultReply({ status: 200, body: { ok: true } });
    const replayed = await runCli('dlq', 'replay', '--all', '--code', 'LR_PAYLOAD_REJECTED', '--offer', 'contoso.*', '--json', '--config', configPath);
    expect(JSON.parse(replayed.out)).toEqual({ replayed: 2 });
    for (const id of contoso) await p.waitForState(id, 'hook', ['delivered']);
    expect(await listed()).toEqual([]);
  }, 30_000);
});
