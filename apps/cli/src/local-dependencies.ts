import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import type { LeadRelayConfig } from '@leadrelay/config';
import { isLoopbackHost } from '@leadrelay/core';
import { CliFailure } from './cli-failure.js';
import type { Stoppable } from '@leadrelay/observability';

export interface LocalDependenciesOptions {
  /** Where a started Redis and Azurite keep their data (default `./.leadrelay`). */
  dataDir?: string;
  /** One line per thing started, for the operator. */
  log: (line: string) => void;
}

/** Azurite's table port in `UseDevelopmentStorage=true`. */
const AZURITE_TABLE_PORT = 10002;

/**
 * What `leadrelay start` needs on a machine without Docker, started when it is not already running:
 * a `redis-server` for a loopback `redis.url` nobody answers on (AOF on, data under `dataDir`),
 * Azurite's table service from `node_modules` for a table on `UseDevelopmentStorage=true`, and the demo
 * inbox (apps/inbox) for the `https` destination named `inbox` on a loopback URL. Something already
 * listening is used as it is. Children run in their own process group, so a Ctrl-C reaches LeadRelay
 * alone, which drains its workers first and then stops what it started.
 */
export async function startLocalDependencies(config: LeadRelayConfig, options: LocalDependenciesOptions): Promise<Stoppable> {
  const dataDir = resolve(options.dataDir ?? '.leadrelay');
  const started: Stoppable[] = [];
  const stop = async () => { for (const s of started.reverse()) await s.stop(); };
  try {
    const redis = loopbackRedis(config);
    if (redis && !(await listening(redis.port))) {
      started.push(await startRedis(redis.port, join(dataDir, 'redis')));
      options.log(`started redis-server on 127.0.0.1:${redis.port} (data in ${join(dataDir, 'redis')})`);
    }
    const usesDevStorage = [...config.destinations, ...config.sources]
      .some((d) => d.enabled && 'connectionString' in d && /^\s*UseDevelopmentStorage=true\s*;?\s*$/i.test(String(d.connectionString)));
    if (usesDevStorage && !(await listening(AZURITE_TABLE_PORT))) {
      started.push(await startAzurite(join(dataDir, 'azurite')));
      options.log(`started Azurite (table service) on 127.0.0.1:${AZURITE_TABLE_PORT} (data in ${join(dataDir, 'azurite')})`);
    }
    const inbox = config.destinations.find((d) => d.enabled && d.type === 'https' && d.id === 'inbox');
    const inboxUrl = inbox && 'url' in inbox ? new URL(String(inbox.url)) : undefined;
    if (inboxUrl && isLoopbackHost(inboxUrl.hostname)) {
      const port = Number(inboxUrl.port || (inboxUrl.protocol === 'https:' ? 443 : 80));
      if (!(await listening(port))) {
        const { startInbox } = await import('@leadrelay/inbox');
        const secret = 'signingSecret' in inbox! ? inbox.signingSecret as string | undefined : undefined;
        started.push(await startInbox({ INBOX_PORT: String(port), INBOX_HOST: '127.0.0.1', ...(secret ? { INBOX_SIGNING_SECRET: secret } : {}) }, { logger: false }));
        options.log(`started the demo inbox on http://127.0.0.1:${port}/ (lists the leads it received)`);
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { stop };
}

/** The port of a single, loopback `redis.url` (a Cluster or a remote Redis is never started here). */
function loopbackRedis(config: LeadRelayConfig): { port: number } | undefined {
  const redis = config.redis as { url?: string; cluster?: unknown };
  if (!redis.url || redis.cluster) return undefined;
  const url = new URL(redis.url);
  if (url.protocol !== 'redis:' || !isLoopbackHost(url.hostname)) return undefined;
  return { port: Number(url.port || 6379) };
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function listening(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (ok: boolean) => { socket.destroy(); done(ok); };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

async function waitListening(port: number, child: ChildProcess, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new CliFailure(`${what} exited at start (${child.exitCode ?? child.signalCode})`);
    if (await listening(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new CliFailure(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs / 1000} s`);
}

/** Stops a child with SIGTERM (Redis then writes its AOF), SIGKILL after 10 s. */
function childStoppable(child: ChildProcess): Stoppable {
  return {
    stop: () => new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => { clearTimeout(force); done(); });
      child.kill('SIGTERM');
    }),
  };
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

async function startRedis(port: number, dir: string): Promise<Stoppable> {
  const bin = onPath('redis-server');
  if (!bin) {
    throw new CliFailure(`nothing answers at redis.url (127.0.0.1:${port}) and redis-server is not on PATH: install it (apt-get install redis-server, brew install redis) or point redis.url / REDIS_URL at a running Redis`);
  }
  mkdirSync(dir, { recursive: true });
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''], { stdio: 'ignore', detached: true });
  await waitListening(port, child, 'redis-server');
  return childStoppable(child);
}

async function startAzurite(dir: string): Promise<Stoppable> {
  let main: string;
  try {
    main = join(dirname(createRequire(import.meta.url).resolve('azurite/package.json')), 'dist/src/table/main.js');
  } catch {
    throw new CliFailure(`a table destination uses UseDevelopmentStorage=true, nothing answers on 127.0.0.1:${AZURITE_TABLE_PORT}, and Azurite is not installed: run npm ci in the LeadRelay checkout (it installs Azurite), start Azurite yourself, or set a real connection string`);
  }
  mkdirSync(dir, { recursive: true });
  const child = spawn(process.execPath, [main, '--tableHost', '127.0.0.1', '--tablePort', String(AZURITE_TABLE_PORT), '--location', dir,
    '--skipApiVersionCheck', '--disableTelemetry', '--silent'], { stdio: 'ignore', detached: true });
  await waitListening(AZURITE_TABLE_PORT, child, 'Azurite');
  return childStoppable(child);
}
