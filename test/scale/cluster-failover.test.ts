import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '@leadrelay/config';
import { parseJsonLead, type Lead } from '@leadrelay/core';
import { DeliveryService } from '@leadrelay/delivery';
import { LeadRelayMetrics, silentLogger } from '@leadrelay/observability';
import { Cluster } from 'ioredis';
import { LeadAudit, Relay, scanKeys } from '@leadrelay/queue';
import { WebhookReceiver } from '../fakes/webhook-receiver/index.js';
import { RedisCluster, redisCliOnPath } from '../helpers/redis-cluster.js';
import { uniquePrefix } from '../helpers/unique.js';

const haveRedisCli = redisCliOnPath() !== undefined;
const LEADS = 300;
const DESTINATIONS = ['d1', 'd2', 'd3', 'd4'];

/**
 * A master of a three-master cluster (one replica each, spread key layout) fails over to its replica
 * (`CLUSTER FAILOVER`) while leads are accepted and delivered. A post that fails meanwhile is posted again,
 * as a client does after a 503. Nothing is lost: the audit balances and every lead reaches every
 * destination once.
 */
describe.skipIf(!haveRedisCli)('Redis Cluster failover while leads flow', () => {
  let cluster: RedisCluster | undefined;
  let receiver: WebhookReceiver | undefined;
  let relay: Relay | undefined;
  let service: DeliveryService | undefined;

  beforeAll(async () => {
    cluster = await RedisCluster.start(3, 1);
    receiver = await WebhookReceiver.start({ keepRequests: false });
  }, 120_000);

  afterAll(async () => {
    await service?.stop(2000).catch(() => undefined);
    await relay?.close();
    await receiver?.stop();
    await cluster?.stop();
  }, 60_000);

  it(`loses none of ${LEADS} leads to ${DESTINATIONS.length} destinations across a master failover`, async () => {
    const config = parseConfig(`
redis:
  prefix: ${uniquePrefix('fo')}
  cluster: [${cluster!.urls.map((u) => `"${u}"`).join(', ')}]
intake: { apiKeys: ["failover-intake-key-0123456789"] }
retry: { attempts: 20, initialDelay: 100ms, maxDelay: 1s }
destinations:
${DESTINATIONS.map((d) => `  - { id: ${d}, type: https, url: "${receiver!.url(`/${d}`)}", concurrency: 8 }`).join('\n')}
`, 'x.yaml', { env: {} });
    relay = new Relay(config);
    service = new DeliveryService({ config, logger: silentLogger, metrics: new LeadRelayMetrics({ defaultMetrics: false }), lockDurationMs: 5000 });
    await service.start();
    const tag = uniquePrefix('f');
    const leads: Lead[] = Array.from({ length: LEADS }, (_, n) => {
      const r = parseJsonLead({ source: 'SPZA', action: 'INS', offer: 'contoso.app', customer: { email: `f${n}.${tag}@contoso.com` } });
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      return r.lead;
    });
    // Replicas show as such once the cluster has told every node (shortly after create).
    for (let i = 0; i < 100 && cluster!.replicas().length < 3; i++) await new Promise((r) => setTimeout(r, 100));
    const replica = cluster!.replicas()[0]!;
    let failedPosts = 0;
    let failover: Promise<void> | undefined;
    const ids: string[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < leads.length) {
        const l = leads[next++]!;
        if (next === 100) failover = cluster!.failover(replica.port);
        for (let attempt = 0; ; attempt++) {
          try {
            ids.push((await relay!.accept(l, { clientId: false })).id);
            break;
          } catch (e) {
            failedPosts++;
            if (attempt > 50) throw e;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      }
    }));
    await failover;
    expect(cluster!.replicas().map((r) => r.port)).not.toContain(replica.port);
    expect(new Set(ids).size).toBe(LEADS);

    const deadline = Date.now() + 120_000;
    while (receiver!.acceptedIds().length < LEADS * DESTINATIONS.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const audit = new LeadAudit(relay.redis, relay.keys, { configured: DESTINATIONS });
    const report = await audit.run().finally(() => audit.close());
    console.log(`failover: ${failedPosts} post(s) failed and were posted again; ${receiver!.acceptedIds().length} deliveries, ${receiver!.duplicateIds().length} duplicate(s)`);
    expect(report).toMatchObject({ leads: LEADS, balanced: true, lostTotal: 0 });
    for (const d of report.destinations) expect([d.destination, d.accepted, d.delivered]).toEqual([d.destination, LEADS, LEADS]);
    expect(receiver!.acceptedIds()).toHaveLength(LEADS * DESTINATIONS.length);
  }, 240_000);

  it('scans every key of the cluster though a master fails over mid-scan', async () => {
    const redis = new Cluster(cluster!.urls.map((u) => ({ host: new URL(u).hostname, port: Number(new URL(u).port) })));
    try {
      const tag = uniquePrefix('scan');
      const written = Array.from({ length: 6000 }, (_, n) => `${tag}:${n}`);
      for (let i = 0; i < written.length; i += 500) {
        await Promise.all(written.slice(i, i + 500).map((k) => redis.set(k, '1')));
      }
      for (let i = 0; i < 100 && cluster!.replicas().length < 3; i++) await new Promise((r) => setTimeout(r, 100));
      // The replica of the master scanned last: the scan holds that master's connection when it fails over.
      const lastMaster = redis.nodes('master').at(-1)!.options.port;
      const replica = cluster!.replicas().find((r) => r.masterPort === lastMaster)!;
      const seen = new Set<string>();
      let batches = 0;
      for await (const batch of scanKeys(redis, `${tag}:*`)) {
        for (const k of batch) seen.add(k);
        if (++batches === 1) {
          // The master is demoted and the client learns the new slot map: its connection to the old master closes.
          await cluster!.failover(replica.port);
          await new Promise<void>((resolve) => redis.refreshSlotsCache(() => resolve()));
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      expect(batches).toBeGreaterThan(1);
      expect(written.filter((k) => !seen.has(k))).toEqual([]);
    } finally {
      redis.disconnect();
    }
  }, 120_000);
});
