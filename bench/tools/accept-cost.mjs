// CPU per lead of each intake step in one process, without HTTP: parseJsonLead, relay.accept (50 in flight)
// and, for comparison, a plain BullMQ queue.add and a plain SET of the lead JSON.
//   node bench/tools/accept-cost.mjs [leads=20000]
// Needs `npm run build` and Redis at $REDIS_URL (default redis://127.0.0.1:6379); deletes its keys afterwards.
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { parseConfig } from '@leadrelay/config';
import { parseJsonLead } from '@leadrelay/core';
import { Relay } from '@leadrelay/queue';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `cost${Date.now().toString(36)}`;
const config = parseConfig(`redis: { url: "${redisUrl}", prefix: ${prefix} }
intake: { apiKeys: ["cost-key-0123456789abcdef"] }
destinations:
  - { id: hook, type: https, url: "http://127.0.0.1:9/hook" }
`, 'x.yaml', { env: {} });
const N = Number(process.argv[2] ?? 20000);
let n = 0;
const body = () => ({ UserDetails: { FirstName: 'Ada', LastName: 'L', Email: `e.${prefix}.${++n}@contoso.com`, Company: 'Contoso', Country: 'GB' }, LeadSource: 'AzureMarketplace-INS|contoso.widget', ActionCode: 'INS', OfferTitle: 'Widget' });
async function measure(label, fn, concurrency = 50) {
  const start = process.cpuUsage(); const t = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => { while (next < N) { next++; await fn(); } }));
  const u = process.cpuUsage(start); const ms = performance.now() - t;
  console.log(`${label.padEnd(34)} ${((u.user + u.system) / N).toFixed(1).padStart(6)} µs CPU/lead  ${(N / ms * 1000).toFixed(0).padStart(6)}/s`);
}
const bodies = () => Array.from({ length: N }, body);
let bs = bodies(); let i = 0;
await measure('JSON.stringify+parse body', async () => { JSON.parse(JSON.stringify(bs[i++ % N])); }, 1);
i = 0; await measure('parseJsonLead', async () => { parseJsonLead(bs[i++ % N]); }, 1);
const relay = new Relay(config);
const leads = bodies().map((b) => parseJsonLead(b).lead); i = 0;
await measure('relay.accept (50 in flight)', () => relay.accept(leads[i++], { clientId: false }));
const redis = new Redis(redisUrl);
const q = new Queue('hook', { connection: redis, prefix: `${prefix}b` });
const leads2 = bodies().map((b) => parseJsonLead(b).lead); i = 0;
await measure('queue.add (50 in flight)', () => q.add('deliver', { lead: leads2[i++] }, { attempts: 12, removeOnComplete: { age: 3600, count: 5000 } }));
i = 0; const leads3 = bodies().map((b) => parseJsonLead(b).lead);
await measure('redis.set lead json (50 in flight)', () => redis.set(`${prefix}b:x:${i}`, JSON.stringify(leads3[i++])));
await relay.close(); await q.close();
let cursor = '0'; do { const [c, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 5000); cursor = c; if (keys.length) await redis.unlink(...keys); } while (cursor !== '0');
redis.disconnect();
