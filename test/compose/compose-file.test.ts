import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { interpolateEnv, parseConfig, type LeadRelayConfig } from '@leadrelay/config';
import { getDestinationType } from '@leadrelay/destinations';
import {
  cliCommandNames, composeSchemaErrors, effectiveArgv, read, readCompose, readDockerfile, ROOT, usesAppImage, type Dockerfile, type Service,
} from './compose-model.js';

const CLI = ['node', 'apps/cli/bin/leadrelay.js'];
/** The service each long-running CLI command runs in. */
const APP_SERVICES = { intake: 'intake', worker: 'worker', ops: 'ops' } as const;

/** Debian's docker-compose (1.29) validates a compose file without a Docker engine; it is an extra check when installed. */
const hasDockerCompose = spawnSync('sh', ['-c', 'command -v docker-compose'], { encoding: 'utf8' }).status === 0;

function dockerCompose(args: string[]): { status: number | null; stdout: string; stderr: string } {
  // A clean environment: the file's own defaults decide, not whatever this shell has set.
  const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', ...args], { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let services: Record<string, Service>;
let image: Dockerfile;
let config: string;
beforeAll(() => {
  ({ services } = readCompose({}));
  image = readDockerfile();
  config = read('leadrelay.yaml');
});

const portOf = (url: string) => Number(new URL(url).port);
const hostOf = (url: string) => new URL(url).hostname;

/** leadrelay.yaml as a service's container loads it. */
function loadFor(service: Service): LeadRelayConfig {
  return parseConfig(config, 'leadrelay.yaml', { env: service.environment });
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification\'s JSON Schema', () => {
    expect(composeSchemaErrors(readCompose({}).raw)).toEqual([]);
  });

  it('fails that schema check for a broken file (the check can fail)', () => {
    const broken = structuredClone(readCompose({}).raw) as { services: Record<string, Record<string, unknown>> };
    broken.services.redis!.imagee = 'redis';
    broken.services.intake!.ports = 8080;
    const errors = composeSchemaErrors(broken);
    expect(errors.join('\n')).toMatch(/\/services\/redis.*imagee/);
    expect(errors.join('\n')).toMatch(/\/services\/intake\/ports/);
  });

  it.skipIf(!hasDockerCompose)('is a valid compose file (docker-compose config -q, when installed)', () => {
    const r = dockerCompose(['config', '-q']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.skipIf(!hasDockerCompose)('is read here as docker-compose reads it (services, merged keys and resolved environment, when installed)', () => {
    const r = dockerCompose(['config']);
    expect(r.status, r.stderr).toBe(0);
    const resolved = parse(r.stdout) as { services: Record<string, { environment?: Record<string, string>; command?: string[]; entrypoint?: string[] }> };
    expect(Object.keys(resolved.services).sort()).toEqual(Object.keys(services).sort());
    for (const [name, s] of Object.entries(services)) {
      expect(resolved.services[name]!.environment ?? {}, name).toEqual(s.environment);
      if (s.command) expect(resolved.services[name]!.command, name).toEqual(s.command);
      if (s.entrypoint) expect(resolved.services[name]!.entrypoint, name).toEqual(s.entrypoint);
    }
  });

  it('pins every image it pulls to an exact version', () => {
    for (const s of Object.values(services)) {
      if (usesAppImage(s)) continue; // built here from the Dockerfile, whose base image is pinned
      expect(s.image, s.name).toMatch(/^[\w./-]+:\d+\.\d+\.\d+[\w.-]*$|@sha256:[0-9a-f]{64}$/);
    }
  });

  it('uses the compose spec without a version key', () => {
    expect(read('docker-compose.yml')).not.toMatch(/^version:/m);
  });

  it('runs an existing CLI command in every app service, and intake, worker and ops each in its own service', async () => {
    const commands = await cliCommandNames();
    expect(existsSync(join(ROOT, 'apps/cli/bin/leadrelay.js')), 'apps/cli/bin/leadrelay.js (the CLI launcher) is missing').toBe(true);
    const app = Object.values(services).filter(usesAppImage);
    expect(app.map((s) => s.name).sort()).toEqual(['inbox', 'intake', 'ops', 'worker']);
    for (const s of app) {
      const argv = effectiveArgv(s, image);
      if (s.name === 'inbox') {
        // The demo receiver is the inbox app's entry point, not a CLI command.
        expect(argv).toEqual(['node', 'apps/inbox/dist/index.js']);
        expect(existsSync(join(ROOT, 'apps/inbox/src/index.ts'))).toBe(true);
        continue;
      }
      expect(argv.slice(0, 2), `${s.name} must run the leadrelay CLI`).toEqual(CLI);
      expect(commands, `${s.name} runs 'leadrelay ${argv[2]}', which the CLI does not have`).toContain(argv[2]);
    }
    for (const [command, name] of Object.entries(APP_SERVICES)) expect(effectiveArgv(services[name]!, image)).toEqual([...CLI, command]);
  });

  it('gives every app service what leadrelay.yaml needs, and the config loads in each', () => {
    for (const name of Object.values(APP_SERVICES)) {
      const s = services[name]!;
      // Every ${VAR} without a default must come from the service's environment.
      expect(interpolateEnv(config, s.environment).missing.map((m) => m.name), name).toEqual([]);
      expect(() => loadFor(s), name).not.toThrow();
    }
  });

  it('points the config at other services by name, never at the container itself', () => {
    for (const name of Object.values(APP_SERVICES)) {
      const c = loadFor(services[name]!);
      expect(hostOf(c.redis.url)).toBe('redis');
      expect(services[hostOf(c.redis.url)], 'redis.url names a compose service').toBeDefined();
      for (const d of c.destinations) {
        const urls = getDestinationType(d.type)!.outboundUrls?.(d) ?? [];
        expect(urls.length, `${d.id} has an outbound URL`).toBeGreaterThan(0);
        for (const { url } of urls) {
          const host = hostOf(url);
          expect(host, `${name}: destination ${d.id} calls ${url}, the container itself`).not.toMatch(/^(127\.|localhost$|\[?::1\]?$)/);
          expect(services[host], `${name}: destination ${d.id} calls ${url}; '${host}' is not a compose service`).toBeDefined();
          // The port it calls is the one that service listens on.
          if (host === 'azurite') expect(portOf(url)).toBe(10002);
          if (host === 'inbox') expect(portOf(url)).toBe(Number(services.inbox!.environment.INBOX_PORT));
        }
      }
    }
  });

  it('signs webhooks with the secret the inbox verifies', () => {
    const c = loadFor(services.worker!);
    const inbox = c.destinations.find((d) => d.id === 'inbox') as { signingSecret?: string } | undefined;
    expect(inbox?.signingSecret).toMatch(/^whsec_/);
    expect(services.inbox!.environment.INBOX_SIGNING_SECRET).toBe(inbox!.signingSecret);
  });

  it('mounts the repository leadrelay.yaml read-only where LEADRELAY_CONFIG points', () => {
    for (const name of Object.values(APP_SERVICES)) {
      const s = services[name]!;
      const path = s.environment.LEADRELAY_CONFIG;
      expect(path, name).toBe('/app/leadrelay.yaml');
      expect(s.volumes, name).toContain(`./leadrelay.yaml:${path}:ro`);
    }
    // The image's own default is the same path.
    expect(image.env.LEADRELAY_CONFIG).toBe('/app/leadrelay.yaml');
  });

  it('publishes the ports the config listens on, and health-checks them', () => {
    const c = loadFor(services.intake!);
    const containerPort = (mapping: string) => Number(mapping.split(':').at(-1));
    expect(services.intake!.ports.map(containerPort)).toEqual([c.intake.port]);
    expect(c.intake.port).toBe(8080);
    expect(services.ops!.ports.map(containerPort)).toEqual([c.ops.port]);
    expect(c.ops.port).toBe(3000);
    expect(services.worker!.expose.map(Number)).toEqual([c.worker.metricsPort]);
    expect(c.worker.metricsPort).toBe(9464);
    const checked = (s: Service) => Number(/127\.0\.0\.1:(\d+)\/healthz/.exec(JSON.stringify(s.healthcheck?.test))?.[1]);
    expect(checked(services.intake!)).toBe(c.intake.port);
    expect(checked(services.ops!)).toBe(c.ops.port);
    expect(checked(services.worker!)).toBe(c.worker.metricsPort);
    expect(checked(services.inbox!)).toBe(Number(services.inbox!.environment.INBOX_PORT));
  });

  it('lets the worker scale: no container name, no fixed host port', () => {
    const worker = services.worker!;
    expect(worker.containerName).toBeUndefined();
    expect(worker.ports).toEqual([]);
    expect(worker.raw).not.toHaveProperty('ports');
    expect(Object.values(services).filter((s) => s.containerName)).toEqual([]);
  });

  it('starts intake, worker and ops only once Redis answers', () => {
    for (const name of Object.values(APP_SERVICES)) expect(services[name]!.dependsOn.redis, name).toBe('service_healthy');
  });

  it('runs Redis with AOF persistence on a volume and a redis-cli ping health check', () => {
    const redis = services.redis!;
    expect(redis.image).toMatch(/^redis:7\.\d+\.\d+-alpine$/);
    const command = redis.command!.join(' ');
    expect(command).toMatch(/--appendonly yes/);
    expect(command).toMatch(/--maxmemory-policy noeviction/);
    expect(redis.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(redis.volumes.some((v) => /^[\w-]+:\/data$/.test(v))).toBe(true);
  });

  it('runs the Azurite table service on 10002, reachable from other containers', () => {
    const azurite = services.azurite!;
    // The same Azurite release the tests run from node_modules.
    const devAzurite = (JSON.parse(read('package.json')) as { devDependencies: Record<string, string> }).devDependencies.azurite;
    expect(azurite.image).toBe(`mcr.microsoft.com/azure-storage/azurite:${devAzurite}`);
    const command = azurite.command!;
    expect(command[0]).toBe('azurite-table');
    expect(command.join(' ')).toMatch(/--tableHost 0\.0\.0\.0/);
    expect(command).toEqual(expect.arrayContaining(['--skipApiVersionCheck', '--loose']));
    expect(azurite.ports.map((p) => p.split(':').at(-1))).toEqual(['10002']);
  });

  it('declares every named volume it uses', () => {
    const { volumes } = readCompose({});
    const named = Object.values(services).flatMap((s) => s.volumes).map((v) => v.split(':')[0]!).filter((v) => !v.startsWith('.') && !v.startsWith('/'));
    for (const v of named) expect(volumes).toContain(v);
  });

  it('takes secrets from the host environment when set', () => {
    const env = { INTAKE_API_KEY: 'prod-key-0123456789abcdef', OPS_PASSWORD: 'a long ops password', INBOX_SIGNING_SECRET: 'whsec_c2VjcmV0LWZyb20taG9zdA==' };
    const fromHost = readCompose(env).services;
    const c = parseConfig(config, 'leadrelay.yaml', { env: fromHost.intake!.environment });
    expect(c.intake.apiKeys).toEqual([env.INTAKE_API_KEY]);
    expect(c.ops.password).toBe(env.OPS_PASSWORD);
    expect(fromHost.inbox!.environment.INBOX_SIGNING_SECRET).toBe(env.INBOX_SIGNING_SECRET);
  });
});
