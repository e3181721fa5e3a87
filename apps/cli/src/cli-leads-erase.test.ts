import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '@leadrelay/config';
import { WebhookReceiver } from '../../../test/fakes/webhook-receiver/index.js';
import { runCli } from '../../../test/helpers/run-cli.js';
import { uniquePrefix } from '../../../test/helpers/unique.js';
import { Pipeline, marketplaceLead } from '../../../test/pipeline/pipeline-harness.js';

/** Every key of the prefix (SCAN: test only) whose name or content contains one of `needles`, case-insensitively. */
async function keysHolding(redis: Redis, prefix: string, needles: string[]): Promise<string[]> {
  const hits: string[] = [];
  const has = (text: string) => needles.some((n) => text.toLowerCase().includes(n.toLowerCase()));
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      const parts: string[] = [key];
      if (type === 'hash') parts.push(...Object.entries(await redis.hgetall(key)).flat());
      else if (type === 'list') parts.push(...(await redis.lrange(key, 0, -1)));
      else if (type === 'zset') parts.push(...(await redis.zrange(key, 0, -1)));
      else if (type === 'set') parts.push(...(await redis.smembers(key)));
      else if (type === 'stream') parts.push(...(await redis.xrange(key, '-', '+')).flatMap(([, f]) => f));
      else if (type === 'string') parts.push((await redis.get(key)) ?? '');
      if (parts.some(has)) hits.push(key);
    }
  } while (cursor !== '0');
  return hits.sort();
}

/**
 * `leadrelay leads` finds a person's leads through the index, masked by default; `leadrelay erase --email`
 * removes every trace of them from Redis (lead, waiting/dead/completed jobs, events, timeline texts,
 * dedupe and identity entries, the email index), keeps a tombstone, and --dry-run changes nothing.
 */
describe('leadrelay leads and erase', () => {
  const redis = new Redis(inject('redisUrl'));
  let good: WebhookReceiver;
  let bad: WebhookReceiver;
  let p: Pipeline;
  let configPath: string;
  let prefix: string;
  const stamp = Date.now().toString(36);
  const email = `Grace.${stamp}@Navy.example`;
  const lastName = `Hopper${stamp}`;
  const otherEmail = `ada.${stamp}@contoso.example`;
  const subject = [email, lastName];
  let rejected: string;
  let second: string;
  let other: string;
  const cli = async (...args: string[]) => runCli(...args, '--config', configPath);

  beforeAll(async () => {
    good = await WebhookReceiver.start();
    // The CRM quotes the value it rejects, as real ones do: the dead letter and its events carry the email.
    bad = await WebhookReceiver.start({ defaultReply: { status: 400, body: { error: `Email ${email} for ${lastName} is not allowed` } } });
    prefix = uniquePrefix('erase');
    configPath = join(mkdtempSync(join(tmpdir(), 'leadrelay-erase-')), 'leadrelay.yaml');
    writeFileSync(configPath, `
redis: { url: "${inject('redisUrl')}", prefix: ${prefix} }
intake: { apiKeys: ["erase-test-key-0123456789"] }
retry: { attempts: 2, initialDelay: 50ms, maxDelay: 100ms }
destinations:
  - { id: good, type: https, url: "${good.url('/hook')}" }
  - { id: bad, type: https, url: "${bad.url('/hook')}", match: { offers: ["contoso.bad"] } }
  - { id: held, type: https, url: "${good.url('/held')}" }
`);
    p = new Pipeline(loadConfig(configPath));
    expect((await cli('pause', 'held')).code).toBe(0);
    await p.startWorkers(['good', 'bad']);
    const person = { FirstName: 'Grace', LastName: lastName, Email: email, Company: 'Navy', Country: 'US' };
    rejected = await p.accept(marketplaceLead({ UserDetails: person, LeadSource: 'AzureMarketplace-INS|contoso.bad' }));
    second = await p.accept(marketplaceLead({ UserDetails: person, LeadSource: 'AzureMarketplace-INS|contoso.widget' }));
    other = await p.accept(marketplaceLead({ UserDetails: { FirstName: 'Ada', LastName: 'Lovelace', Email: otherEmail }, LeadSource: 'AzureMarketplace-INS|contoso.widget' }));
    await p.waitForState(rejected, 'bad', ['dead']);
    for (const id of [rejected, second, other]) await p.waitForState(id, 'good', ['delivered']);
  }, 60_000);
  afterAll(async () => {
    await p?.close();
    await good?.stop();
    await bad?.stop();
    redis.disconnect();
  });

  it('leads --email finds the person\'s leads (any casing), masked unless --show-pii; --offer/--state/--since narrow', async () => {
    const r = await cli('leads', '--email', email.toUpperCase(), '--json');
    expect(r.code, r.err).toBe(0);
    const found = JSON.parse(r.out) as { leads: { id: string; offer: string; deliveries: Record<string, string>; customer: { email: string } }[]; cursor?: string };
    expect(found.leads.map((l) => l.id)).toEqual([second, rejected]);
    expect(found.leads[1]).toMatchObject({ offer: 'contoso.bad', deliveries: { good: 'delivered', bad: 'dead', held: 'queued' } });
    expect(r.out).not.toContain(lastName);
    expect(r.out.toLowerCase()).not.toContain(email.toLowerCase());
    const text = await cli('leads', '--email', email, '--show-pii');
    expect(text.out).toContain(lastName);
    expect(text.out).toContain(email);
    expect(text.out).toContain('bad:dead');

    const page1 = JSON.parse((await cli('leads', '--since', '1h', '--limit', '2', '--json')).out) as typeof found;
    expect(page1.leads.map((l) => l.id)).toEqual([other, second]);
    const page2 = JSON.parse((await cli('leads', '--since', '1h', '--limit', '2', '--cursor', page1.cursor!, '--json')).out) as typeof found;
    expect(page2.leads.map((l) => l.id)).toEqual([rejected]);
    expect(page2.cursor).toBeUndefined();
    const dead = JSON.parse((await cli('leads', '--offer', 'CONTOSO.*', '--state', 'dead', '--json')).out) as typeof found;
    expect(dead.leads.map((l) => l.id)).toEqual([rejected]);
    const usage = await cli('leads', '--state', 'dead');
    expect(usage.code).toBe(2);
    expect(usage.err).toContain('--email <addr>, --offer <glob> or --since');
  });

  it('erase --dry-run counts and changes nothing', async () => {
    const before = await keysHolding(redis, prefix, subject);
    expect(before.length).toBeGreaterThan(3);
    const r = await cli('erase', '--email', email, '--dry-run', '--json');
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out) as { dryRun: boolean; leadIds: string[]; erased: Record<string, unknown> };
    expect(report.dryRun).toBe(true);
    expect(report.leadIds.sort()).toEqual([rejected, second].sort());
    expect(report.erased).toMatchObject({ leads: 2, jobs: { waiting: 2, delayed: 0, dead: 1, completed: 2 }, indexEntries: 2 });
    expect(await keysHolding(redis, prefix, subject)).toEqual(before);
    expect((await p.relay.status(rejected))?.erasedAt).toBeUndefined();
  });

  it('erase removes the person from every key, keeps a tombstone that status shows, and leaves others alone', async () => {
    const r = await cli('erase', '--email', email.toLowerCase(), '--json');
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out) as { erased: { leads: number; jobs: Record<string, number>; timelineEntries: number; dedupeEntries: number; indexEntries: number; jobEvents: number; destinationErrors: number }; inFlight: unknown[] };
    expect(report.inFlight).toEqual([]);
    expect(report.erased).toMatchObject({ leads: 2, jobs: { waiting: 2, delayed: 0, dead: 1, completed: 2 }, indexEntries: 2 });
    expect(report.erased.timelineEntries).toBeGreaterThanOrEqual(1);
    // Each id-less lead's content-dedupe entry and its identity entry.
    expect(report.erased.dedupeEntries).toBe(4);
    expect(report.erased.jobEvents).toBeGreaterThan(0);

    // Nothing under the prefix names or holds the person any more; the other customer is still there (the scan sees values).
    expect(await keysHolding(redis, prefix, subject)).toEqual([]);
    expect((await keysHolding(redis, prefix, [otherEmail])).length).toBeGreaterThan(2);

    const status = await cli('status', rejected, '--json');
    expect(status.code, status.err).toBe(0);
    const tomb = JSON.parse(status.out) as { erasedAt?: string; deliveries: Record<string, { state: string; lastError?: string }> };
    expect(tomb.erasedAt).toBeDefined();
    expect(tomb.deliveries.good?.state).toBe('delivered');
    expect(tomb.deliveries.bad).toEqual({ state: 'dead', attempts: 1 });
    expect(tomb.deliveries.held).toMatchObject({ state: 'dead', lastError: expect.stringContaining('erased on request') });
    expect((await cli('status', second)).out).toContain('erased ');

    // Not found by email any more; by offer it is a tombstone; a second erase finds nothing.
    expect(JSON.parse((await cli('leads', '--email', email, '--json')).out)).toEqual({ leads: [] });
    const byOffer = JSON.parse((await cli('leads', '--offer', 'contoso.bad', '--json')).out) as { leads: { id: string; erasedAt?: string; customer?: unknown }[] };
    expect(byOffer.leads).toHaveLength(1);
    expect(byOffer.leads[0]).toMatchObject({ id: rejected, erasedAt: tomb.erasedAt });
    expect(byOffer.leads[0]!.customer).toBeUndefined();
    expect(JSON.parse((await cli('erase', '--email', email, '--json')).out)).toMatchObject({ leadIds: [] });

    // The other person's lead is untouched, still waiting at the paused destination.
    expect((await p.relay.status(other))?.erasedAt).toBeUndefined();
    expect(await p.relay.queue('held').getJob(`held.${other}`)).toBeTruthy();
    expect(JSON.parse((await cli('leads', '--email', otherEmail, '--json')).out).leads).toHaveLength(1);
  });
});
