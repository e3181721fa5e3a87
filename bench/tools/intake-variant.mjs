// Intake variants for `profile-intake.mjs variant:<name>`, to split intake's cost per request:
//   plain         buildIntakeServer with its own fail-fast ioredis client (what `leadrelay intake` runs)
//   autopipeline  the same with ioredis enableAutoPipelining (coalesces concurrent requests' commands)
//   noaccept      the same HTTP layer (auth, parsing, hooks, metrics) with relay.accept answering at once
//                 without Redis: what intake costs before it stores anything (a diagnostic stub, not a test)
//   bare-fastify  an empty Fastify POST handler: the HTTP floor on this machine
// Env: CONFIG (a leadrelay.yaml), VARIANT. Needs `npm run build`.
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { loadConfig } from '@leadrelay/config';
import { Relay } from '@leadrelay/queue';
import { buildIntakeServer } from '@leadrelay/intake';
import { silentLogger } from '@leadrelay/observability';
const config = loadConfig(process.env.CONFIG);
const v = process.env.VARIANT;
let app, relay, redis;
if (v === 'bare-fastify') {
  app = Fastify({ logger: false });
  app.post('/v1/leads', async (req, reply) => { reply.code(202); return { id: 'x', duplicate: false, destinations: ['hook'] }; });
} else {
  redis = new Redis(config.redis.url, { maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 3000, enableAutoPipelining: v === 'autopipeline' });
  relay = new Relay(config, { redis });
  if (v === 'noaccept') relay.accept = async (lead) => ({ id: lead.id, duplicate: false, destinations: ['hook'] });
  app = buildIntakeServer({ config, relay, logger: silentLogger });
}
await app.listen({ host: config.intake.host, port: config.intake.port });
console.log('variant ready', v);
process.once('SIGTERM', async () => { await app.close(); await relay?.close(); redis?.disconnect(); process.exit(0); });
