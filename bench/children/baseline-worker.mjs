// Baseline for the end-to-end benchmark: a hand-written BullMQ worker that POSTs each job's lead as
// JSON with fetch and throws on a non-2xx answer (so BullMQ retries). No status records, no counters,
// no classification. Env: REDIS_URL, BULL_PREFIX, QUEUE, TARGET_URL, CONCURRENCY.
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const { REDIS_URL, BULL_PREFIX, QUEUE, TARGET_URL } = process.env;
const concurrency = Number(process.env.CONCURRENCY ?? 16);
const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });

const worker = new Worker(QUEUE, async (job) => {
  const res = await fetch(TARGET_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'webhook-id': job.id },
    body: JSON.stringify(job.data.lead),
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
}, { connection, prefix: BULL_PREFIX, concurrency });
worker.on('error', (e) => console.error('worker error', e.message));
await worker.waitUntilReady();
console.log('baseline worker ready');

process.once('SIGTERM', async () => {
  await worker.close();
  await connection.quit();
  process.exit(0);
});
