import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

/** Answers true when something speaks Redis at host:port (PING → +PONG). */
export function redisReachable(url: string, timeoutMs = 500): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = createConnection({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (ok: boolean) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export function redisServerOnPath(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** A redis-server of a test's own: for tests that stop, kill or restart Redis. */
export class RedisServer {
  private proc?: ChildProcess;
  readonly dir = mkdtempSync(join(tmpdir(), 'leadrelay-redis-'));
  constructor(readonly port: number, private readonly extraArgs: string[] = []) {}

  static async start(options: { appendonly?: boolean; args?: string[] } = {}): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), [
      '--appendonly', options.appendonly ? 'yes' : 'no', '--appendfsync', 'always', ...(options.args ?? []),
    ]);
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const bin = redisServerOnPath();
    if (!bin) throw new Error('redis-server is not on PATH: install it (apt-get install redis-server) or set REDIS_URL');
    this.proc = spawn(bin, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--dir', this.dir, ...this.extraArgs], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await redisReachable(this.url, 200)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.stop('SIGKILL');
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  /** Stops the server; `signal` SIGKILL simulates a crash. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => { p.once('exit', () => resolve()); p.kill(signal); });
    this.proc = undefined;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The Redis tests use (README: Tests): `$REDIS_URL`, else 127.0.0.1:6379, else a redis-server started
 * on a free port, else an error that says how to get one.
 */
export async function resolveTestRedis(): Promise<{ url: string; server?: RedisServer }> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL };
  if (await redisReachable('redis://127.0.0.1:6379')) return { url: 'redis://127.0.0.1:6379' };
  if (!redisServerOnPath()) {
    throw new Error('The tests need Redis: none at $REDIS_URL or 127.0.0.1:6379 and no redis-server on PATH. Install it (apt-get install redis-server) or set REDIS_URL.');
  }
  const server = await RedisServer.start();
  return { url: server.url, server };
}
