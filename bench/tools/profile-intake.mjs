// Profiles `leadrelay intake` under the intake benchmark's load, to find where a request's time goes.
//   node bench/tools/profile-intake.mjs [seconds=10] [connections=50] [ours|baseline|variant:<name>]
// (`ours` = `leadrelay intake`; `baseline` = bench/children/baseline-intake.mjs; variants: see intake-variant.mjs)
// Needs `npm run build` and Redis at $REDIS_URL (default redis://127.0.0.1:6379). Prints req/s, the Redis
// commands per accepted lead (INFO commandstats delta) and the top self-time functions of a V8 CPU profile
// (the .cpuprofile is kept in the printed directory; open it in Chrome DevTools for the full picture).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';

const seconds = Number(process.argv[2] ?? 10);
const connections = Number(process.argv[3] ?? 50);
const target = process.argv[4] ?? 'ours';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'leadrelay-intake-prof-'));
const prefix = `prof${Date.now().toString(36)}`;
const key = 'profile-intake-key-0123456789';
const port = await new Promise((r) => { const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => r(port)); }); });
writeFileSync(join(dir, 'leadrelay.yaml'), `redis: { url: "${redisUrl}", prefix: ${prefix} }
intake: { host: 127.0.0.1, port: ${port}, apiKeys: ["${key}"] }
destinations:
  - { id: hook, type: https, url: "http://127.0.0.1:9/hook" }
`);
const program = target === 'baseline'
  ? [join(root, 'bench/children/baseline-intake.mjs')]
  : target.startsWith('variant:')
    ? [join(root, 'bench/tools/intake-variant.mjs')]
    : [join(root, 'apps/cli/bin/leadrelay.js'), 'intake', '--config', join(dir, 'leadrelay.yaml')];
// NO_PROFILE=1: no --cpu-prof (its overhead inflates CPU per lead); RATE=<req/s>: a fixed request rate, so CPU per lead is
// measured below saturation (steadier between runs than at full load).
const profiling = process.env.NO_PROFILE !== '1';
const child = spawn(process.execPath, [...(profiling ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []), ...program], {
  cwd: root, stdio: 'inherit',
  env: { ...process.env, LOG_LEVEL: 'silent', REDIS_URL: redisUrl, BULL_PREFIX: `{${prefix}}:q`, QUEUE: 'hook', ATTEMPTS: '10', PORT: String(port), CONFIG: join(dir, 'leadrelay.yaml'), VARIANT: target.slice(8) },
});
for (let i = 0; i < 200; i++) {
  try { if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break; } catch { /* starting */ }
  await new Promise((r) => setTimeout(r, 50));
}
const redis = new Redis(redisUrl);
const commandStats = async () => Object.fromEntries((await redis.info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat_'))
  .map((l) => [l.slice(8, l.indexOf(':')), Number(/calls=(\d+)/.exec(l)[1])]));
const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))[1]);
// CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat.
const cpuSeconds = (pid) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100; };
const cpuBefore = { intake: cpuSeconds(child.pid), redis: cpuSeconds(redisPid), loadgen: cpuSeconds(process.pid) };
const before = await commandStats();
let n = 0;
const tag = Date.now().toString(36);
const result = await autocannon({
  url: `http://127.0.0.1:${port}`, connections, duration: seconds, ...(process.env.RATE ? { overallRate: Number(process.env.RATE) } : {}),
  requests: [{
    method: 'POST', path: '/v1/leads', headers: { 'content-type': 'application/json', 'x-api-key': key },
    setupRequest: (req) => ({ ...req, body: JSON.stringify({ UserDetails: { FirstName: 'Ada', LastName: 'L', Email: `p.${tag}.${++n}@contoso.com`, Company: 'Contoso', Country: 'GB' }, LeadSource: 'AzureMarketplace-INS|contoso.widget', ActionCode: 'INS', OfferTitle: 'Widget' }) }),
  }],
});
const after = await commandStats();
const cpu = { intake: cpuSeconds(child.pid) - cpuBefore.intake, redis: cpuSeconds(redisPid) - cpuBefore.redis, loadgen: cpuSeconds(process.pid) - cpuBefore.loadgen };
const accepted = result['2xx'];
console.log(`${(accepted / result.duration).toFixed(0)} accepted/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}`);
console.log(`CPU used in ${result.duration} s: intake ${cpu.intake.toFixed(1)} s (${(1e6 * cpu.intake / accepted).toFixed(0)} µs/lead), redis-server ${cpu.redis.toFixed(1)} s (${(1e6 * cpu.redis / accepted).toFixed(0)} µs/lead), load generator ${cpu.loadgen.toFixed(1)} s`);
console.log('Redis commands per accepted lead (all clients on this Redis, so other users add noise):');
for (const [cmd, calls] of Object.entries(after).map(([c, v]) => [c, v - (before[c] ?? 0)]).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1])) {
  console.log(`  ${cmd.padEnd(12)} ${(calls / accepted).toFixed(2)}`);
}
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
// Clean the keys this run wrote.
let cursor = '0';
do {
  const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}}*`, 'COUNT', 2000);
  cursor = next;
  if (keys.length) await redis.unlink(...keys);
} while (cursor !== '0');
redis.disconnect();

const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (!file) { console.log('no CPU profile written'); process.exit(0); }
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
const self = new Map();
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const dt = new Map();
profile.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
let total = 0;
for (const [id, us] of dt) {
  const node = byId.get(id);
  const f = node.callFrame;
  const where = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '~/').replace(`file://${root}/`, '')}:${f.lineNumber + 1}`;
  self.set(where, (self.get(where) ?? 0) + us);
  total += us;
}
const byModule = new Map();
for (const [where, us] of self) {
  const m = /~\/((?:@[^/]+\/)?[^/]+)/.exec(where)?.[1] ?? (where.includes('packages/') || where.includes('apps/') ? where.split(' ')[1].split('/').slice(0, 2).join('/') : where.startsWith('(') ? where.split(' ')[0] : 'node:internal');
  byModule.set(m, (byModule.get(m) ?? 0) + us);
}
console.log(`\nCPU profile ${join(dir, file)}: self time by package`);
for (const [m, us] of [...byModule].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${(100 * us / total).toFixed(1).padStart(5)}%  ${m}`);
console.log('top functions (self time)');
for (const [w, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${(100 * us / total).toFixed(1).padStart(5)}%  ${w}`);
