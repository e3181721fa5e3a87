import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isScalar, parseDocument } from 'yaml';
import { effectiveArgv, read, readCompose, readDockerfile, ROOT, usesAppImage, type Service } from '../compose/compose-model.js';
import { freePort } from '../helpers/index.js';

export interface Endpoint {
  host: string;
  port: number;
}

/** How one app service runs outside Docker. */
export interface ServicePlan {
  name: string;
  /** ENTRYPOINT + command, as the container runs it (cwd: the repository root, which is /app in the image). */
  argv: string[];
  /** The image's ENV plus the service's environment, service hostnames and ports rewritten to loopback. */
  env: Record<string, string>;
  /** Container port → the loopback port it runs on here. */
  ports: Map<number, number>;
  dependsOn: string[];
  /** The compose healthcheck command with the service's ports rewritten; undefined without one. */
  healthcheck?: string[];
  /** `stop_grace_period` in ms (compose default 10 s). */
  stopGraceMs: number;
}

export interface ComposePlan {
  services: Record<string, Service>;
  apps: ServicePlan[];
  /** The copy of leadrelay.yaml the app services load (only listen ports substituted). */
  configPath: string;
  /** `service:containerPort` → `host:port` here, for every service. */
  endpoints: Map<string, string>;
}

/** Ports a service's container listens on: `ports` (`[ip:]host:container[/proto]`) and `expose`. */
export function containerPorts(s: Service): number[] {
  const fromPorts = s.ports.map((p) => Number(p.split('/')[0]!.split(':').at(-1)));
  return [...new Set([...fromPorts, ...s.expose.map((p) => Number(p.split('/')[0]))])];
}

function durationMs(v: unknown, fallback: number): number {
  const m = /^(\d+)(ms|s|m)$/.exec(String(v ?? ''));
  if (!m) return fallback;
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
}

/** The listen-port keys of leadrelay.yaml, by the CLI command that serves them. */
const LISTEN_KEYS: Record<string, readonly string[]> = { intake: ['intake', 'port'], ops: ['ops', 'port'], worker: ['worker', 'metricsPort'] };

/**
 * Reads docker-compose.yml and the Dockerfile, and says how to run every app service (the ones built
 * from this repository: intake, worker, ops, inbox) as a child process on this machine: redis and
 * azurite become the given endpoints, each app service's ports free loopback ports, and the mounted
 * leadrelay.yaml a copy with only its listen ports changed.
 */
export async function planCompose(options: { redis: Endpoint; azurite: Endpoint }): Promise<ComposePlan> {
  const { services } = readCompose({});
  const image = readDockerfile();
  const endpoints = new Map<string, string>();
  const ports = new Map<string, Map<number, number>>();
  for (const s of Object.values(services)) {
    const mapped = new Map<number, number>();
    for (const p of containerPorts(s)) {
      const here = s.name === 'redis' ? options.redis : s.name === 'azurite' ? options.azurite : { host: '127.0.0.1', port: await freePort() };
      if (!usesAppImage(s) && s.name !== 'redis' && s.name !== 'azurite') throw new Error(`compose service ${s.name} has no stand-in in this test`);
      mapped.set(p, here.port);
      endpoints.set(`${s.name}:${p}`, `${here.host}:${here.port}`);
    }
    ports.set(s.name, mapped);
  }

  const apps = Object.values(services).filter(usesAppImage);
  // The config file every app service mounts; its listen ports become the ones chosen above, edited in
  // place in the text so everything else (comments, ${VAR:-default} references) stays byte for byte.
  let text = read('leadrelay.yaml');
  const doc = parseDocument(text);
  const edits: { start: number; end: number; value: string }[] = [];
  for (const s of apps) {
    const command = effectiveArgv(s, image)[2];
    const key = command ? LISTEN_KEYS[command] : undefined;
    if (!key) continue;
    const node = doc.getIn(key, true);
    if (!isScalar(node) || !node.range) throw new Error(`leadrelay.yaml has no ${key.join('.')}`);
    const port = Number(node.value);
    const here = ports.get(s.name)!.get(port);
    if (here === undefined) throw new Error(`leadrelay.yaml ${key.join('.')} is ${port}, which service ${s.name} does not publish or expose (${containerPorts(s).join(', ')})`);
    edits.push({ start: node.range[0], end: node.range[1], value: String(here) });
  }
  for (const e of edits.sort((a, b) => b.start - a.start)) text = text.slice(0, e.start) + e.value + text.slice(e.end);
  const dir = mkdtempSync(join(tmpdir(), 'leadrelay-compose-run-'));
  const configPath = join(dir, 'leadrelay.yaml');
  writeFileSync(configPath, text);

  const names = Object.keys(services);
  const rewrite = (value: string): string => value.replace(new RegExp(`\\b(${names.join('|')}):(\\d+)\\b`, 'g'), (whole: string) => endpoints.get(whole) ?? whole);
  const plans = apps.map((s): ServicePlan => {
    const own = ports.get(s.name)!;
    // Bind mounts: a container path in the environment means the host file (here: the config copy).
    const mounts = new Map(s.volumes.map((v) => v.split(':')).filter(([src]) => src?.startsWith('./')).map(([src, dst]) => [dst!, src === './leadrelay.yaml' ? configPath : join(ROOT, src!)]));
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' };
    for (const [k, raw] of Object.entries({ ...image.env, ...s.environment })) {
      let v = mounts.get(raw) ?? rewrite(raw);
      // A variable holding one of the service's own container ports (INBOX_PORT) is where it listens.
      if (/^\d+$/.test(v) && own.has(Number(v))) v = String(own.get(Number(v)));
      env[k] = v;
    }
    const hc = s.healthcheck?.test;
    const ownPorts = (a: string) => a.replace(/(127\.0\.0\.1|localhost):(\d+)/g, (whole, host: string, p: string) => (own.has(Number(p)) ? `${host}:${own.get(Number(p))}` : whole));
    const healthcheck = !Array.isArray(hc) ? undefined
      : hc[0] === 'CMD' ? hc.slice(1).map(ownPorts)
        : hc[0] === 'CMD-SHELL' ? ['sh', '-c', ownPorts(hc.slice(1).join(' '))] : undefined;
    return {
      name: s.name, argv: effectiveArgv(s, image), env, ports: own, dependsOn: Object.keys(s.dependsOn),
      ...(healthcheck ? { healthcheck } : {}), stopGraceMs: durationMs(s.raw.stop_grace_period, 10_000),
    };
  });
  return { services, apps: plans, configPath, endpoints };
}

/** Service names in an order where every app service comes after the app services it depends on. */
export function startOrder(apps: readonly ServicePlan[]): ServicePlan[] {
  const byName = new Map(apps.map((a) => [a.name, a]));
  const out: ServicePlan[] = [];
  const visit = (a: ServicePlan, path: string[]) => {
    if (out.includes(a)) return;
    if (path.includes(a.name)) throw new Error(`depends_on cycle: ${[...path, a.name].join(' → ')}`);
    for (const d of a.dependsOn) {
      const dep = byName.get(d);
      if (dep) visit(dep, [...path, a.name]);
    }
    out.push(a);
  };
  for (const a of apps) visit(a, []);
  return out;
}
