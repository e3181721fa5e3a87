import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { parseConfig, type LeadRelayConfig } from '@leadrelay/config';
import { startIntake, type RunningIntake } from '@leadrelay/intake';
import { LeadAudit, Relay, type AuditReport } from '@leadrelay/queue';
import { freePort } from '../helpers/free-port.js';
import { LeadPoster, type PostedLead } from '../helpers/lead-poster.js';
import { LeadRelayProcesses, type LeadRelayProcess } from '../helpers/leadrelay-process.js';
import { uniquePrefix } from '../helpers/unique.js';
import { silentRuntime } from '../helpers/silent-runtime.js';

const API_KEY = 'fault-case-intake-key-0123456789ab';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface FaultCaseBenchOptions {
  redisUrl: string;
  /** The `destinations:` entries (YAML list items). */
  destinationsYaml: string;
  /** Top-level YAML besides redis, intake and destinations (`worker:` included). */
  extraYaml?: string;
  /** Secrets that must never appear in a worker's log. */
  secrets?: string[];
}

/** A Microsoft HTTPS-endpoint lead, distinct per `n` (its content is what makes a re-post the same lead). */
export function microsoftLead(n: number, tag: string): { body: object; email: string } {
  const email = `lead${n}.${tag}@contoso.com`;
  return {
    email,
    body: {
      UserDetails: { FirstName: 'Ada', LastName: `Fault${n}`, Email: email, Phone: '16175550100', Country: 'US', Company: 'Contoso', Title: 'CTO' },
      LeadSource: 'AzureMarketplace', ActionCode: 'INS', OfferTitle: 'Widget', Description: `Contact me #${n}`,
    },
  };
}

/**
 * One fault case as an operator runs LeadRelay: intake (in this process, posted to over HTTP the way
 * Microsoft posts) and `leadrelay worker` child processes sharing one config file and one Redis prefix.
 * After the fault, `auditHolds` checks the zero-loss audit equation.
 */
export class FaultCaseBench {
  readonly processes = new LeadRelayProcesses();
  readonly relay: Relay;
  readonly config: LeadRelayConfig;
  readonly tag = uniquePrefix('f');
  private readonly prefix = uniquePrefix('fault');
  private readonly dir = mkdtempSync(join(tmpdir(), 'leadrelay-fault-'));
  readonly configPath = join(this.dir, 'leadrelay.yaml');
  private intake?: RunningIntake;
  private poster?: LeadPoster;

  private constructor(private readonly options: FaultCaseBenchOptions) {
    writeFileSync(this.configPath, this.yaml(options.destinationsYaml));
    this.config = parseConfig(this.yaml(options.destinationsYaml), this.configPath, { env: {} });
    this.relay = new Relay(this.config);
  }

  static async start(options: FaultCaseBenchOptions): Promise<FaultCaseBench> {
    const bench = new FaultCaseBench(options);
    bench.intake = await startIntake({ config: bench.config, runtime: silentRuntime(bench.config), host: '127.0.0.1', port: 0 });
    bench.poster = new LeadPoster({ baseUrl: bench.intake.address, apiKey: API_KEY, retryDelayMs: 200, giveUpAfterMs: 30_000 });
    return bench;
  }

  private yaml(destinations: string): string {
    return `
redis: { url: "${this.options.redisUrl}", prefix: ${this.prefix} }
intake: { apiKeys: ["${API_KEY}"], host: 127.0.0.1, port: 0 }
${this.options.extraYaml ?? ''}
destinations:
${destinations}
`;
  }

  /**
   * Starts `leadrelay worker` and waits for its /readyz. `destinationsYaml` gives this worker its own copy
   * of the config with other destination settings (same ids, same Redis), e.g. a URL that tells its requests apart.
   */
  async startWorker(name: string, destinationsYaml?: string): Promise<LeadRelayProcess> {
    let configPath = this.configPath;
    if (destinationsYaml) {
      configPath = join(this.dir, `${name}.yaml`);
      writeFileSync(configPath, this.yaml(destinationsYaml));
    }
    const port = await freePort();
    const worker = this.processes.start(['worker', '--config', configPath], {
      name, env: { LEADRELAY_METRICS_PORT: String(port) }, watchFor: this.options.secrets ?? [],
    });
    await worker.waitReady(port, 60_000);
    return worker;
  }

  /** Posts lead `n` to intake over HTTP (retried on 503 like Microsoft does). */
  async post(n: number): Promise<PostedLead & { email: string }> {
    const { body, email } = microsoftLead(n, this.tag);
    return { ...(await this.poster!.post(body)), email };
  }

  /** Posts leads `from`…`from + count - 1` and returns their ids in order. */
  async postMany(count: number, from = 0): Promise<string[]> {
    const ids: string[] = [];
    for (let n = from; n < from + count; n++) ids.push((await this.post(n)).id);
    return ids;
  }

  /** Waits until the lead's delivery at `destination` is in one of `states`. */
  async waitForState(id: string, destination: string, states: string[], timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'unknown';
    while (Date.now() < deadline) {
      last = (await this.relay.status(id))?.deliveries[destination]?.state ?? 'no record';
      if (states.includes(last)) return;
      await sleep(100);
    }
    throw new Error(`${id} at ${destination} is ${last}, not ${states.join('/')}, after ${timeoutMs} ms`);
  }

  /** Waits until no destination has a lead waiting, active or delayed. */
  async waitDrained(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const stats = await this.relay.allStats();
      if (stats.every((s) => s.waiting + s.active + s.delayed === 0)) return;
      await sleep(200);
    }
    throw new Error(`not drained after ${timeoutMs} ms: ${JSON.stringify(await this.relay.allStats())}`);
  }

  /**
   * The audit equation (README: Accounting): every accepted lead is delivered, pending, dead or skipped at each
   * destination, none lost. With `drained`, every lead is delivered or skipped and nothing is dead.
   */
  async auditHolds(options: { leads: number; drained: boolean }): Promise<AuditReport> {
    const audit = new LeadAudit(this.relay.redis, this.relay.keys, { configured: this.config.destinations.map((d) => d.id) });
    try {
      const report = await audit.run();
      expect(report.lost, 'lost leads').toEqual([]);
      expect(report.lostTotal).toBe(0);
      expect(report.balanced, 'audit equation').toBe(true);
      expect(report.leads).toBe(options.leads);
      for (const d of report.destinations) {
        expect(d.accepted, `${d.destination}: accepted`).toBe(options.leads);
        expect(d.dead, `${d.destination}: dead`).toBe(0);
        if (options.drained) expect(d.delivered + d.skipped, `${d.destination}: delivered + skipped once drained`).toBe(options.leads);
      }
      return report;
    } finally {
      await audit.close();
    }
  }

  /** Worker logs that carried a configured secret (must be none). */
  get leakedSecrets(): string[] {
    return this.processes.started.filter((p) => p.seen.size > 0).map((p) => p.name);
  }

  async stop(): Promise<void> {
    await this.processes.killAll();
    await this.intake?.stop().catch(() => undefined);
    await this.relay.close().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
