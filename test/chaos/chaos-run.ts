import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type LeadRelayConfig } from '@leadrelay/config';
import { startIntake, type RunningIntake } from '@leadrelay/intake';
import { LeadAudit, Relay, type AuditReport, type DeadLetter, type DestinationStats } from '@leadrelay/queue';
import { MARKETO_REAL_LIMITS } from '../fakes/marketo/index.js';
import { DestinationFakes, type DestinationInspection, type ExpectedLead } from '../helpers/destination-fakes.js';
import { freePort } from '../helpers/free-port.js';
import { LeadPoster } from '../helpers/lead-poster.js';
import { LeadRelayProcesses, type LeadRelayProcess } from '../helpers/leadrelay-process.js';
import { RedisServer } from '../helpers/redis-server.js';
import { silentRuntime } from '../helpers/silent-runtime.js';
import type { TlsCert } from '../helpers/tls-cert.js';
import { uniquePrefix } from '../helpers/unique.js';

export const CHAOS_API_KEY = 'chaos-intake-key-0123456789abcdef';
const DESTINATIONS = ['hook', 'table', 'crm', 'mkto'] as const;

export interface ChaosOptions {
  /** Leads posted during the run. */
  leads: number;
  /** How long the webhook is down (first half 503, second half connection resets). */
  outageMs: number;
  /** Leads posted per second: posting is spread out so every fault hits a live flow. */
  postRate: number;
  /** Posts in flight at once (default 8). */
  postConcurrency?: number;
  /** How long to wait, after the last fault, for every delivery to finish before reporting what is missing. */
  drainTimeoutMs: number;
  azuriteConnectionString: string;
  tls: TlsCert;
  log: (line: string) => void;
}

/** One lead at one destination that did not end up delivered (or skipped where its match excludes it). */
export interface Undelivered {
  leadId: string;
  destination: string;
  state: string;
  lastError?: string;
}

export interface ChaosResult {
  expected: ExpectedLead[];
  /** Whether every queue emptied before drainTimeoutMs. */
  drained: boolean;
  undelivered: Undelivered[];
  /** Leads whose delivery set (delivered + skipped) is not what their offer implies. */
  wrongFanOut: string[];
  deadLetters: DeadLetter[];
  inspection: DestinationInspection;
  /** Attempt timeline entries with outcome `throttled` at `crm` (the 429 burst was really waited out). */
  crmThrottled: number;
  /** Per destination: times a delivery was taken over by another worker after its lock expired (BullMQ `stc`). */
  takeovers: Record<string, number>;
  /** Processes that exited without the test killing them (e.g. a worker crashing on Redis loss). */
  unexpectedExits: string[];
  /** Configured secrets found in a worker's log output or in a lead's status (must be none). */
  leakedSecrets: string[];
  poster: LeadPoster['counts'];
  /** Posts that needed more than one try (Redis restart). */
  retriedPosts: number;
  /** What happened when, for the report. */
  events: string[];
  stats: DestinationStats[];
  /** `leadrelay audit` after each fault (while leads still flow) and once drained: it must never find a lost lead. */
  audits: { after: string; report: AuditReport }[];
  durationMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The chaos scenario that proves delivery loses nothing (README: How delivery behaves): leads posted to intake while two CLI worker processes
 * deliver them to a webhook, Azure Table (Azurite), Dynamics (fake AD + Dataverse) and Marketo (fake);
 * meanwhile one worker is SIGKILLed and restarted three times, Redis (AOF, appendfsync always) is
 * SIGKILLed and restarted, the webhook is down for `outageMs`, and Dynamics answers a burst of 429s.
 */
export class ChaosRun {
  private redis?: RedisServer;
  private fakes?: DestinationFakes;
  private intake?: RunningIntake;
  private checker?: Relay;
  private readonly processes = new LeadRelayProcesses();
  private readonly dir = mkdtempSync(join(tmpdir(), 'leadrelay-chaos-'));
  private readonly configPath = join(this.dir, 'leadrelay.yaml');
  private config?: LeadRelayConfig;
  private victim?: LeadRelayProcess;
  private steady?: LeadRelayProcess;
  private readonly killedByUs = new Set<LeadRelayProcess>();
  private readonly expected: ExpectedLead[] = [];
  private readonly events: string[] = [];
  private posted = 0;
  private postingError?: Error;
  /** Posts of lead index >= holdAt wait for `holdOpen`: each fault lands at its point of the flow, however slow the machine. */
  private holdAt = Infinity;
  private holdOpen: Promise<void> = Promise.resolve();
  private openHold: () => void = () => undefined;
  /** Pacing restarts after each hold so held posts do not burst out. */
  private pace = { at: 0, index: 0 };
  /** The replacement worker's readiness; the next kill waits for it, so a kill always hits a working worker. */
  private victimReady: Promise<void> = Promise.resolve();
  private retriedPosts = 0;
  private readonly audits: { after: string; report: AuditReport }[] = [];
  private started = Date.now();
  private poster?: LeadPoster;

  constructor(private readonly options: ChaosOptions) {}

  private event(text: string): void {
    const line = `+${((Date.now() - this.started) / 1000).toFixed(1)}s ${text}`;
    this.events.push(line);
    this.options.log(line);
  }

  async start(): Promise<void> {
    this.started = Date.now();
    this.redis = await RedisServer.start({ appendonly: true });
    this.fakes = await DestinationFakes.start({
      azuriteConnectionString: this.options.azuriteConnectionString,
      tls: this.options.tls,
      webhook: { defaultReply: { status: 200, delayMs: 5 } },
      // Marketo's real limits (100 calls / 20 s, 10 concurrent, 300 per call) shared by both workers.
      marketo: { limits: MARKETO_REAL_LIMITS, latencyMs: 20 },
    });
    const yaml = `
redis: { url: "${this.redis.url}", prefix: ${uniquePrefix('chaos')} }
intake: { apiKeys: ["${CHAOS_API_KEY}"], host: 127.0.0.1, port: 0 }
worker: { host: 127.0.0.1, metricsPort: \${LEADRELAY_METRICS_PORT:-0}, lockDuration: 2s, shutdownTimeout: 2s }
# Enough attempts that a lead failing from the first second of the outage outlives it: 40 attempts with
# backoff doubling from 250 ms to 10 s wait at least ~170 s in total (half of each step is fixed).
retry: { attempts: 40, initialDelay: 250ms, maxDelay: 10s }
destinations:
${this.fakes.destinationsYaml({ marketoMatch: '{ offers: ["contoso.*"] }' })}`;
    writeFileSync(this.configPath, yaml);
    this.config = parseConfig(yaml, this.configPath, { env: {} });
    this.intake = await startIntake({ config: this.config, runtime: silentRuntime(this.config), host: '127.0.0.1', port: 0 });
    // Its connection errors while Redis is away are expected (Relay keeps them quiet); polling retries.
    this.checker = new Relay(this.config);
    this.poster = new LeadPoster({ baseUrl: this.intake.address, apiKey: CHAOS_API_KEY, retryDelayMs: 200, giveUpAfterMs: 60_000 });
    const [a, b] = await Promise.all([this.startWorker('worker-a'), this.startWorker('worker-b')]);
    [this.victim, this.steady] = [a.process, b.process];
    await Promise.all([a.ready, b.ready]);
    this.event(`redis :${this.redis.port} (AOF, appendfsync always), intake ${this.intake.address}, workers pid ${this.victim.pid} and ${this.steady.pid}`);
  }

  /** Starts a CLI worker process; `ready` resolves once its /readyz answers (rejects if it dies first). */
  private async startWorker(name: string): Promise<{ process: LeadRelayProcess; ready: Promise<void> }> {
    const port = await freePort();
    const process = this.processes.start(['worker', '--config', this.configPath], { name, env: { LEADRELAY_METRICS_PORT: String(port) }, watchFor: this.fakes!.secrets });
    return { process, ready: process.waitReady(port, 60_000) };
  }

  /** Posts every lead (paced), injects every fault at its point of the flow, then waits for delivery. */
  async run(): Promise<ChaosResult> {
    const posting = this.postAll().catch((e: Error) => { this.postingError = e; throw e; });
    await Promise.all([posting, this.injectFaults()]);
    this.event(`all ${this.options.leads} leads accepted (${this.poster!.counts.requests} requests, ${this.retriedPosts} leads needed a retry)`);
    const drained = await this.waitDrained();
    this.event(drained ? 'every queue is empty' : `queues not empty after ${this.options.drainTimeoutMs} ms`);
    await this.audit('drain');
    return this.collect(drained);
  }

  private leadBody(i: number, tag: string): { body: object; offer: string; email: string } {
    const offer = i % 10 === 0 ? 'fabrikam.gadget' : 'contoso.widget';
    const email = `lead${i}.${tag}@contoso.com`;
    return {
      offer, email,
      body: {
        UserDetails: { FirstName: 'Ada', LastName: `Chaos${i}`, Email: email, Phone: '16175550100', Country: 'US', Company: 'Contoso', Title: 'CTO' },
        LeadSource: 'AzureMarketplace', ActionCode: 'INS', OfferTitle: offer === 'contoso.widget' ? 'Widget' : 'Gadget', Description: `Contact me #${i}`,
      },
    };
  }

  private async postAll(): Promise<void> {
    const { leads, postRate } = this.options;
    const tag = uniquePrefix('r');
    this.pace = { at: Date.now(), index: 0 };
    let next = 0;
    const poster = async () => {
      for (;;) {
        const i = next++;
        if (i >= leads) return;
        while (i >= this.holdAt) await this.holdOpen;
        // Paced: `postRate` leads per second, counted from the start or the last hold.
        const due = this.pace.at + ((i - this.pace.index) * 1000) / postRate;
        if (due > Date.now()) await sleep(due - Date.now());
        const { body, offer, email } = this.leadBody(i, tag);
        const r = await this.poster!.post(body, { offer });
        if (r.tries > 1) this.retriedPosts++;
        // A retry may find its lead accepted: Redis stored it, then died before intake could answer. At the
        // first try, though, a fresh lead must never be taken for another one.
        if (r.duplicate && r.tries === 1) throw new Error(`lead ${i} (${email}) was taken for a duplicate of ${r.id} at its first post`);
        if (r.duplicate) this.event(`lead ${i}: its retried post found it already accepted (Redis stored it, then the answer was lost)`);
        this.expected.push({ id: r.id, email, toMarketo: offer.startsWith('contoso.') });
        this.posted++;
      }
    };
    await Promise.all(Array.from({ length: this.options.postConcurrency ?? 8 }, poster));
  }

  /** Holds posting at `fraction` of the leads and resolves once every lead before it is accepted. */
  private async holdAtFraction(fraction: number): Promise<void> {
    this.holdAt = Math.ceil(this.options.leads * fraction);
    this.holdOpen = new Promise((resolve) => { this.openHold = resolve; });
    await this.whenPosted(fraction);
  }

  /** Lets posting go on after a fault was injected. */
  private release(): void {
    this.pace = { at: Date.now(), index: this.holdAt };
    this.holdAt = Infinity;
    this.openHold();
  }

  /** Resolves once `fraction` of the leads are accepted; throws if posting failed. */
  private async whenPosted(fraction: number): Promise<void> {
    const target = Math.ceil(this.options.leads * fraction);
    while (this.posted < target) {
      if (this.postingError) throw this.postingError;
      await sleep(25);
    }
  }

  private async injectFaults(): Promise<void> {
    const fakes = this.fakes!;
    await this.holdAtFraction(0.1);
    await this.killVictim(1);
    this.release();

    await this.holdAtFraction(0.3);
    await this.audit('worker SIGKILL #1');
    this.event('redis: SIGKILL');
    await this.redis!.stop('SIGKILL');
    // Posts go on while Redis is away: intake answers 503 and the client retries them.
    this.release();
    await sleep(1500);
    await this.redis!.start();
    this.event('redis: restarted from its AOF');

    await this.holdAtFraction(0.45);
    await this.audit('Redis SIGKILL + restart');
    const half = this.options.outageMs / 2;
    this.event(`webhook down for ${this.options.outageMs / 1000}s: 503 for ${half / 1000}s, then connection resets`);
    fakes.receiver.setDefaultReply({ status: 503, body: { error: 'Service Unavailable' } });
    const outage = (async () => {
      await sleep(half);
      fakes.receiver.setDefaultReply({ reset: true });
      await sleep(this.options.outageMs - half);
      fakes.receiver.setDefaultReply({ status: 200, delayMs: 5 });
      this.event('webhook back up');
    })();
    this.release();

    await this.holdAtFraction(0.6);
    await this.audit('webhook outage (under way)');
    await this.killVictim(2);
    this.release();

    await this.holdAtFraction(0.75);
    await this.audit('worker SIGKILL #2');
    this.event('dynamics: next 30 requests answer 429 with Retry-After: 1');
    fakes.dv.injectFault({ kind: 'throttle', retryAfterSeconds: 1 }, 30);
    this.release();

    await this.holdAtFraction(0.9);
    await this.audit('429 burst at dynamics');
    await this.killVictim(3);
    this.release();
    await outage;
    await this.victimReady;
  }

  /** Runs the zero-loss audit while leads flow (retried while Redis reconnects) and keeps its report. */
  private async audit(after: string): Promise<void> {
    const audit = new LeadAudit(this.checker!.redis, this.checker!.keys, { configured: [...DESTINATIONS] });
    try {
      for (let tries = 1; ; tries++) {
        try {
          const report = await audit.run();
          this.audits.push({ after, report });
          this.event(`audit after ${after}: ${report.leads} leads, ${report.lostTotal} lost; ${report.destinations.map((d) => `${d.destination} ${d.delivered}d/${d.waiting + d.delayed + d.active + d.paused}p/${d.skipped}s`).join(', ')}`);
          return;
        } catch (e) {
          if (tries >= 20) throw e;
          await sleep(500);
        }
      }
    } finally {
      await audit.close();
    }
  }

  /** SIGKILLs the victim worker (once its previous incarnation is up) and starts its replacement. */
  private async killVictim(n: number): Promise<void> {
    await this.victimReady;
    const victim = this.victim!;
    this.killedByUs.add(victim);
    await victim.kill('SIGKILL');
    this.event(`worker pid ${victim.pid}: SIGKILL #${n}`);
    const next = await this.startWorker(`worker-a${n}`);
    this.victim = next.process;
    this.victimReady = next.ready.then(() => this.event(`worker restarted as pid ${next.process.pid}`));
    // Not awaited here: a failed start is reported by the next kill or at the end of the faults.
    this.victimReady.catch(() => undefined);
  }

  /** Every destination's queue empty (nothing waiting, active, delayed or dead), or false after the timeout. */
  private async waitDrained(): Promise<boolean> {
    const deadline = Date.now() + this.options.drainTimeoutMs;
    let lastReport = 0;
    while (Date.now() < deadline) {
      try {
        const stats = await this.checker!.allStats();
        if (stats.some((s) => s.dead > 0)) return false;
        if (stats.every((s) => s.waiting + s.active + s.delayed === 0 && s.state !== 'paused')) return true;
        if (Date.now() - lastReport > 15_000) {
          lastReport = Date.now();
          this.event(`waiting: ${stats.map((s) => `${s.destination} ${s.waiting}w/${s.active}a/${s.delayed}d`).join(', ')}`);
        }
      } catch {
        // Redis may be reconnecting; ask again.
      }
      await sleep(500);
    }
    return false;
  }

  private async collect(drained: boolean): Promise<ChaosResult> {
    const checker = this.checker!;
    const undelivered: Undelivered[] = [];
    const wrongFanOut: string[] = [];
    let crmThrottled = 0;
    const secrets = this.fakes!.secrets;
    const leaked = new Set<string>();
    for (let i = 0; i < this.expected.length; i += 50) {
      const chunk = this.expected.slice(i, i + 50);
      const statuses = await Promise.all(chunk.map((l) => checker.status(l.id)));
      chunk.forEach((lead, j) => {
        const s = statuses[j];
        if (!s) {
          undelivered.push({ leadId: lead.id, destination: '*', state: 'unknown lead' });
          return;
        }
        const want = lead.toMarketo ? DESTINATIONS : DESTINATIONS.filter((d) => d !== 'mkto');
        if (!lead.toMarketo && s.deliveries.mkto?.state !== 'skipped') wrongFanOut.push(lead.id);
        if (Object.keys(s.deliveries).length !== DESTINATIONS.length) wrongFanOut.push(lead.id);
        for (const d of want) {
          const r = s.deliveries[d];
          if (r?.state !== 'delivered') undelivered.push({ leadId: lead.id, destination: d, state: r?.state ?? 'missing', lastError: r?.lastError });
        }
        crmThrottled += s.timeline.filter((t) => t.destination === 'crm' && t.outcome === 'throttled').length;
        const text = JSON.stringify(s);
        for (const secret of secrets) if (text.includes(secret)) leaked.add(`status of ${lead.id}`);
      });
    }
    const takeovers: Record<string, number> = {};
    for (const d of DESTINATIONS) {
      const ids = this.expected.filter((l) => d !== 'mkto' || l.toMarketo).map((l) => checker.keys.jobId(d, l.id));
      let sum = 0;
      for (let i = 0; i < ids.length; i += 200) {
        const counts = await Promise.all(ids.slice(i, i + 200).map((id) => checker.redis.hget(checker.keys.queueKey(d, id), 'stc')));
        sum += counts.reduce((a, c) => a + Number(c ?? 0), 0);
      }
      takeovers[d] = sum;
    }
    const unexpectedExits = [this.victim, this.steady].filter((p) => p && !p.running && !this.killedByUs.has(p))
      .map((p) => `${p!.name} (pid ${p!.pid}):\n${p!.stderrTail}`);
    return {
      expected: [...this.expected],
      drained,
      undelivered,
      wrongFanOut,
      deadLetters: await checker.deadLetters({}),
      inspection: await this.fakes!.inspect(this.expected),
      crmThrottled,
      takeovers,
      unexpectedExits,
      leakedSecrets: [...leaked, ...this.processes.started.filter((p) => p.seen.size > 0).map((p) => `log of ${p.name}`)],
      poster: { ...this.poster!.counts },
      retriedPosts: this.retriedPosts,
      events: [...this.events],
      stats: await checker.allStats(),
      audits: [...this.audits],
      durationMs: Date.now() - this.started,
    };
  }

  /** Kills and closes everything this run started; safe after a partial start or a failure. */
  async stop(): Promise<void> {
    await this.processes.killAll();
    await this.intake?.stop().catch(() => undefined);
    await this.checker?.close().catch(() => undefined);
    await this.fakes?.stop();
    await this.redis?.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

