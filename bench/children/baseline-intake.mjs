// Baseline for the intake benchmark: the least a durable intake can do — a Fastify handler that puts
// each posted body in one BullMQ queue with a single `queue.add` (one Redis round trip), no auth,
// no parsing beyond JSON, no dedupe, no status. Env: REDIS_URL, BULL_PREFIX, QUEUE, PORT, ATTEMPTS (LeadRelay's default).
import Fastify from 'fastify';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

const { REDIS_URL, BULL_PREFIX, QUEUE, PORT, ATTEMPTS } = process.env;
const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
const queue = new Queue(QUEUE, { connection, prefix: BULL_PREFIX });
// Same job options as LeadRelay's delivery jobs, so the stored job is comparable.
const jobOptions = { attempts: Number(ATTEMPTS), backoff: { type: 'exponential', delay: 10_000 }, removeOnComplete: { age: 3600, count: 5000 }, removeOnFail: false };

const app = Fastify({ logger: false, bodyLimit: 65_536 });
app.post('/v1/leads', async (request, reply) => {
  const job = await queue.add('deliver', { lead: request.body }, jobOptions);
  reply.code(202);
  return { id: job.id, duplicate: false, destinations: [QUEUE] };
});
app.get('/readyz', async () => ({ status: (await connection.ping()) === 'PONG' ? 'ready' : 'down' }));

await app.listen({ host: '127.0.0.1', port: Number(PORT) });
console.log('baseline intake ready');

process.once('SIGTERM', async () => {
  await app.close();
  await queue.close();
  await connection.quit();
  process.exit(0);
});
