import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '@leadrelay/config';
import { LeadAudit, Relay, type AuditReport } from '@leadrelay/queue';
import { webhookIdOf } from '../../packages/destinations/src/https/https-mapping.js';
import { WebhookReceiver } from '../fakes/webhook-receiver/index.js';
import { freePort } from '../helpers/free-port.js';
import { LeadPoster } from '../helpers/lead-poster.js';
import { LeadRelayProcesses, type LeadRelayProcess } from '../helpers/leadrelay-process.js';
import { RedisServer } from '../helpers/redis-server.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { uniquePrefix } from '../helpers/unique.js';

const API_KEY = 'fault-schedule-key-0123456789abcdef';
const DESTINATIONS = ['hook-a', 'hook-b'] as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One fault of a schedule, `at` ms after the first lead is posted. */
export type Fault =
  | { at: number; kind: 'kill-worker'; worker: number; downMs: number }
  | { at: number; kind: 'kill-intake'; downMs: number }
  | { at: number; kind: 'restart-redis'; downMs: number }
  | { at: number; kind: 'cut-redis'; ms: number }
  | { at: number; kind: 'slow-redis'; ms: number; latencyMs: number }
  | { at: number; kind: 'cut-destination'; destination: number; ms: number }
  | { at: number; kind: 'slow-destination'; destination: number; ms: number; latencyMs: number }
  | { at: number; kind: 'burst'; destination: number; status: 429 | 500 | 503; count: number };

export interface FaultSchedule {
  seed: number;
  leads: number;
  /** Leads posted per second. */
  postRate: number;
  faults: Fault[];
}

/** mulberry32: a small seeded PRNG, so a schedule is rebuilt exactly from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The schedule of a seed: 40 leads over ~2.7 s and two to four faults at random moments of that flow. */
export function faultSchedule(seed: number): FaultSchedule {
  const rnd = random(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const leads = 40;
  const postRate = 15;
  const flowMs = (leads / postRate) * 1000;
  const faults: Fault[] = [];
  for (let i = int(2, 4); i > 0; i--) {
    const at = int(0, flowMs);
    const pick = int(0, 7);
    if (pick === 0) faults.push({ at, kind: 'kill-worker', worker: int(0, 1), downMs: int(0, 1000) });
    else if (pick === 1) faults.push({ at, kind: 'kill-intake', downMs: int(0, 800) });
    else if (pick === 2) faults.push({ at, kind: 'restart-redis', downMs: int(200, 1200) });
    else if (pick === 3) faults.push({ at, kind: 'cut-redis', ms: int(200, 1500) });
    else if (pick === 4) faults.push({ at, kind: 'slow-redis', ms: int(500, 2000), latencyMs: int(20, 200) });
    else if (pick === 5) faults.push({ at, kind: 'cut-destination', destination: int(0, 1), ms: int(300, 2000) });
    else if (pick === 6) faults.push({ at, kind: 'slow-destination', destination: int(0, 1), ms: int(500, 2000), latencyMs: int(50, 400) });
    else faults.push({ at, kind: 'burst', destination: int(0, 1), status: ([429, 500, 503] as const)[int(0, 2)]!, count: int(3, 15) });
  }
  faults.sort((a, b) => a.at - b.at);
  return { seed, leads, postRate, faults };
}

/** What one schedule left behind: the audit after draining, and every way it could have lost or doubled a lead. */
export interface ScheduleResult {
  schedule: FaultSchedule;
  drained: boolean;
  audit: AuditReport;
  /** `destination: lead` accepted by intake but never received by that destination. */
  missing: string[];
  /** Leads a destination received that intake never accepted under that id (a lead doubled under another id). */
  unexpected: string[];
  /** Deliveries received more than once under one webhook-id (the receiver keeps one: at-least-once, deduplicated). */
  redeliveries: number;
  /** Processes that died without being killed by the schedule. */
  crashed: string[];
  events: string[];
  durationMs: number;
}

/**
 * The lasting parts of a fault-schedule run: a Redis (AOF, fsync always) behind a TCP proxy, and two
 * webhook receivers, each behind its own proxy. Each schedule gets a fresh key prefix and fresh
 * intake and worker processes, so a schedule replayed from its seed starts from the same state.
 */
export class FaultScheduleBench {
  private readonly dir = mkdtempSync(join(tmpdir(), 'leadrelay-faults-'));
  private readonly processes = new LeadRelayProcesses();

  private constructor(
    private readonly redis: RedisServer,
    private readonly redisProxy: TcpProxy,
    private readonly receivers: WebhookReceiver[],
    private readonly receiverProxies: TcpProxy[],
  ) {}

  static async start(): Promise<FaultScheduleBench> {
    const redis = await RedisServer.start({ appendonly: true });
    const redisProxy = await TcpProxy.start({ port: redis.port });
    const receivers = await Promise.all(DESTINATIONS.map(() => WebhookReceiver.start({ defaultReply: { status: 200, delayMs: 2 } })));
    const receiverProxies = await Promise.all(receivers.map((r) => TcpProxy.start({ port: r.port })));
    return new FaultScheduleBench(redis, redisProxy, receivers, receiverProxies);
  }

  async run(schedule: FaultSchedule): Promise<ScheduleResult> {
    const started = Date.now();
    const events: string[] = [];
    const event = (text: string) => events.push(`+${((Date.now() - started) / 1000).toFixed(2)}s ${text}`);
    for (const r of this.receivers) { r.clear(); r.setDefaultReply({ status: 200, delayMs: 2 }); }
    const intakePort = await freePort();
    const configPath = join(this.dir, `${schedule.seed}.yaml`);
    const yaml = `
redis: { url: "redis://127.0.0.1:${this.redisProxy.port}", prefix: ${uniquePrefix(`faults${schedule.seed}`)} }
intake: { apiKeys: ["${API_KEY}"], host: 127.0.0.1, port: ${intakePort} }
worker: { host: 127.0.0.1, metricsPort: \${LEADRELAY_METRICS_PORT:-0}, lockDuration: 2s, shutdownTimeout: 2s }
# Enough attempts to outlive any fault of a schedule (each lasts at most 2 s).
retry: { attempts: 40, initialDelay: 200ms, maxDelay: 2s }
destinations:
${DESTINATIONS.map((d, i) => `  - { id: ${d}, type: https, url: "http://127.0.0.1:${this.receiverProxies[i]!.port}/${d}", timeout: 2s }`).join('\n')}
`;
    writeFileSync(configPath, yaml);
    const config = parseConfig(yaml, configPath, { env: { LEADRELAY_METRICS_PORT: '0' } });
    // The checker talks to Redis directly: the proxy's faults are the system's, not the test's.
    const checker = new Relay({ ...config, redis: { ...config.redis, url: this.redis.url } });
    const killed = new Set<LeadRelayProcess>();
    const crashedOf = (p: LeadRelayProcess) => !p.running && !killed.has(p);
    const startIntake = async () => {
      const p = this.processes.start(['intake', '--config', configPath], { name: 'intake' });
      await p.waitReady(intakePort);
      return p;
    };
    const startWorker = async (n: number) => {
      const port = await freePort();
      const p = this.processes.start(['worker', '--config', configPath], { name: `worker-${n}`, env: { LEADRELAY_METRICS_PORT: String(port) } });
      await p.waitReady(port);
      return p;
    };
    let intake = await startIntake();
    const workers = await Promise.all([0, 1].map(startWorker));
    const all: LeadRelayProcess[] = [intake, ...workers];
    event(`intake pid ${intake.pid}, workers ${workers.map((w) => w.pid).join(', ')}`);

    const poster = new LeadPoster({ baseUrl: `http://127.0.0.1:${intakePort}`, apiKey: API_KEY, retryDelayMs: 100, requestTimeoutMs: 5000, giveUpAfterMs: 60_000 });
    const accepted: string[] = [];
    const tag = uniquePrefix('s');
    const flowStart = Date.now();
    const posting = (async () => {
      let next = 0;
      await Promise.all(Array.from({ length: 4 }, async () => {
        for (;;) {
          const i = next++;
          if (i >= schedule.leads) return;
          const due = flowStart + (i * 1000) / schedule.postRate;
          if (due > Date.now()) await sleep(due - Date.now());
          const r = await poster.post({
            UserDetails: { FirstName: 'Ada', LastName: `Fault${i}`, Email: `f${i}.${tag}@contoso.com`, Company: 'Contoso', Country: 'US' },
            LeadSource: 'AzureMarketplace', ActionCode: 'INS', OfferTitle: 'Widget', Description: `schedule ${schedule.seed} lead ${i}`,
          }, { offer: 'contoso.widget' });
          accepted.push(r.id);
        }
      }));
    })();

    // Faults on one process or on Redis never overlap: the second waits for the first to finish.
    const serial = new Map<string, Promise<unknown>>();
    const inTurn = (key: string, step: () => Promise<void>) => {
      const turn = (serial.get(key) ?? Promise.resolve()).then(step);
      serial.set(key, turn);
      return turn;
    };
    const faulting = Promise.all(schedule.faults.map(async (f) => {
      await sleep(Math.max(0, flowStart + f.at - Date.now()));
      event(JSON.stringify(f));
      switch (f.kind) {
        case 'kill-worker':
          await inTurn(`worker-${f.worker}`, async () => {
            const victim = workers[f.worker]!;
            killed.add(victim);
            await victim.kill('SIGKILL');
            await sleep(f.downMs);
            workers[f.worker] = await startWorker(f.worker);
            all.push(workers[f.worker]!);
            event(`worker-${f.worker} back as pid ${workers[f.worker]!.pid}`);
          });
          break;
        case 'kill-intake':
          await inTurn('intake', async () => {
            killed.add(intake);
            await intake.kill('SIGKILL');
            await sleep(f.downMs);
            intake = await startIntake();
            all.push(intake);
            event(`intake back as pid ${intake.pid}`);
          });
          break;
        case 'restart-redis':
          await inTurn('redis', async () => {
            await this.redis.stop('SIGKILL');
            await sleep(f.downMs);
            await this.redis.start();
            event('redis back from its AOF');
          });
          break;
        case 'cut-redis':
          this.redisProxy.cut(f.ms);
          break;
        case 'slow-redis':
          this.redisProxy.slow(f.latencyMs);
          await sleep(f.ms);
          this.redisProxy.slow(0);
          break;
        case 'cut-destination':
          this.receiverProxies[f.destination]!.cut(f.ms);
          break;
        case 'slow-destination':
          this.receiverProxies[f.destination]!.slow(f.latencyMs);
          await sleep(f.ms);
          this.receiverProxies[f.destination]!.slow(0);
          break;
        case 'burst':
          this.receivers[f.destination]!.failNext(f.count, f.status, f.status === 429 ? { headers: { 'Retry-After': '1' } } : {});
          break;
      }
    }));
    await Promise.all([posting, faulting]);
    event(`${accepted.length} leads accepted in ${poster.counts.requests} requests`);

    const auditor = new LeadAudit(checker.redis, checker.keys, { configured: [...DESTINATIONS] });
    let audit: AuditReport | undefined;
    let drained = false;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      try {
        audit = await auditor.run();
        drained = audit.destinations.every((d) => d.delivered + d.dead + d.skipped === d.accepted) && audit.leads >= new Set(accepted).size;
        if (drained) break;
      } catch {
        // Redis may still be coming back.
      }
      await sleep(250);
    }
    event(drained ? 'drained' : 'not drained after 60 s');
    await auditor.close();

    const ids = new Set(accepted);
    const missing: string[] = [];
    const unexpected: string[] = [];
    let redeliveries = 0;
    DESTINATIONS.forEach((d, i) => {
      const receiver = this.receivers[i]!;
      const want = new Map([...ids].map((id) => [webhookIdOf(d, id), id]));
      for (const [webhookId, id] of want) if (receiver.acceptedCount(webhookId) === 0) missing.push(`${d}: ${id}`);
      for (const webhookId of receiver.acceptedIds()) {
        if (!want.has(webhookId)) unexpected.push(`${d}: ${webhookId}`);
        redeliveries += Math.max(0, receiver.acceptedCount(webhookId) - 1);
      }
    });
    const crashed = all.filter(crashedOf).map((p) => `${p.name} (pid ${p.pid}): ${p.stderrTail.slice(-2000)}`);
    await this.processes.killAll();
    await checker.close();
    this.redisProxy.slow(0);
    for (const p of this.receiverProxies) p.slow(0);
    return { schedule, drained, audit: audit!, missing, unexpected, redeliveries, crashed, events, durationMs: Date.now() - started };
  }

  async stop(): Promise<void> {
    await this.processes.killAll();
    await Promise.all([this.redisProxy.stop(), ...this.receiverProxies.map((p) => p.stop()), ...this.receivers.map((r) => r.stop())]);
    await this.redis.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Seeds of a run: `LEADRELAY_CHAOS_SEED` replays one; else `count` seeds from `LEADRELAY_CHAOS_FIRST_SEED` (default 1). */
export function scheduleSeeds(count: number): number[] {
  const one = process.env.LEADRELAY_CHAOS_SEED;
  if (one) return [Number(one)];
  const first = Number(process.env.LEADRELAY_CHAOS_FIRST_SEED ?? 1);
  return Array.from({ length: count }, (_, i) => first + i);
}
