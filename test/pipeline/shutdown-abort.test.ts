import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '@leadrelay/config';
import { Relay } from '@leadrelay/queue';
import { readTlsCert } from '../helpers/tls-cert.js';
import { uniquePrefix } from '../helpers/index.js';
import { API_KEY, marketplaceLead } from './pipeline-harness.js';

const CLI = join(import.meta.dirname, '../../apps/cli/bin/leadrelay.js');
const SHUTDOWN_MS = 2000;

/** An HTTPS server (the test certificate, which the worker trusts) that reads every request and never answers. */
class SilentServer {
  requests = 0;
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server, readonly url: string) {}
  static async start(): Promise<SilentServer> {
    const server = createServer(readTlsCert(inject('tlsCert')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const s = new SilentServer(server, `https://127.0.0.1:${(server.address() as { port: number }).port}`);
    server.on('secureConnection', (sock) => { s.sockets.add(sock); sock.on('close', () => s.sockets.delete(sock)); });
    server.on('request', (req) => { s.requests++; req.resume(); });
    return s;
  }
  async stop(): Promise<void> {
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Each type's settings pointing every URL it calls (tokens included) at the silent server; timeouts far beyond the deadline. */
const DESTINATIONS: Record<string, (url: string) => string> = {
  marketo: (u) => `{ id: dest, type: marketo, restUrl: "${u}", identityUrl: "${u}/identity", clientId: c, clientSecret: s, operation: sync }`,
  'salesforce api': (u) => `{ id: dest, type: salesforce, mode: api, loginUrl: "${u}", clientId: c, clientSecret: s }`,
  'salesforce web-to-lead': (u) => `{ id: dest, type: salesforce, mode: web-to-lead, oid: 00D000000000001, url: "${u}/servlet/servlet.WebToLead?encoding=UTF-8" }`,
  dynamics: (u) => `{ id: dest, type: dynamics, instanceUrl: "${u}", auth: { mode: client-secret, authorityHost: "${u}", tenantId: contoso.onmicrosoft.com, clientId: 00000000-0000-0000-0000-000000000001, clientSecret: s } }`,
  'azure-table': (u) => `{ id: dest, type: azure-table, connectionString: "DefaultEndpointsProtocol=https;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=${u}/devstoreaccount1;", table: Leads }`,
};

/**
 * On SIGTERM, a worker whose destination never answers aborts the call at worker.shutdownTimeout, for every
 * destination type (not only webhooks): exit 0 within the deadline plus a second, the lead back in waiting, no attempt used.
 */
describe('shutdown aborts in-flight calls of every destination type', () => {
  let silent: SilentServer;
  beforeAll(async () => { silent = await SilentServer.start(); });
  afterAll(async () => { await silent?.stop(); });

  for (const [name, destination] of Object.entries(DESTINATIONS)) {
    it(name, async () => {
      const yaml = `
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('abort')} }
intake: { apiKeys: ["${API_KEY}"] }
worker: { metricsPort: 0, lockDuration: 2s, shutdownTimeout: ${SHUTDOWN_MS}ms }
destinations:
  - ${destination(silent.url)}
`;
      const configPath = join(mkdtempSync(join(tmpdir(), 'leadrelay-abort-')), 'leadrelay.yaml');
      writeFileSync(configPath, yaml);
      const relay = new Relay(parseConfig(yaml, configPath, { env: {} }));
      let worker: ChildProcess | undefined;
      try {
        const { id } = await relay.accept(marketplaceLead(), { clientId: false });
        const before = silent.requests;
        worker = spawn(process.execPath, [CLI, 'worker', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } });
        let stderr = '';
        worker.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
        // The first call (token, discovery, describe or the write itself) has reached the server and hangs.
        for (const until = Date.now() + 30_000; silent.requests === before && Date.now() < until;) await new Promise((r) => setTimeout(r, 20));
        expect(silent.requests, stderr).toBeGreaterThan(before);
        const job = await relay.queue('dest').getJob(relay.keys.jobId('dest', id));
        expect(await job!.getState()).toBe('active');
        const exited = new Promise<number | null>((resolve) => worker!.once('exit', (code) => resolve(code)));
        const signalled = Date.now();
        worker.kill('SIGTERM');
        expect(await exited, stderr).toBe(0);
        const stopMs = Date.now() - signalled;
        console.log(`${name}: SIGTERM with a silent destination, exited 0 after ${stopMs} ms (shutdownTimeout ${SHUTDOWN_MS} ms)`);
        expect(stopMs).toBeLessThan(SHUTDOWN_MS + 1000);
        const after = await relay.queue('dest').getJob(relay.keys.jobId('dest', id));
        expect(await after!.getState()).toBe('waiting');
        expect(after!.attemptsMade).toBe(0);
        expect(await relay.deadLetters({})).toHaveLength(0);
      } finally {
        worker?.kill('SIGKILL');
        await relay.close();
      }
    }, 60_000);
  }
});

/**
 * A worker takes jobs before its start has finished (it still looks for orphan queues, starts sources and its probe
 * server): a SIGTERM in that window must stop it like any other, not kill it by the signal's default action.
 */
describe('SIGTERM while the worker is still starting', () => {
  it('exits 0 and leaves the lead waiting', async () => {
    const yaml = `
redis: { url: "${inject('redisUrl')}", prefix: ${uniquePrefix('startsig')} }
intake: { apiKeys: ["${API_KEY}"] }
worker: { metricsPort: 0, lockDuration: 2s, shutdownTimeout: ${SHUTDOWN_MS}ms }
destinations:
  - { id: dest, type: https, url: "https://127.0.0.1:9/never" }
`;
    const configPath = join(mkdtempSync(join(tmpdir(), 'leadrelay-startsig-')), 'leadrelay.yaml');
    writeFileSync(configPath, yaml);
    const relay = new Relay(parseConfig(yaml, configPath, { env: {} }));
    let worker: ChildProcess | undefined;
    try {
      await relay.queue('dest').pause();
      const { id } = await relay.accept(marketplaceLead(), { clientId: false });
      worker = spawn(process.execPath, [CLI, 'worker', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } });
      let stderr = '';
      worker.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => worker!.once('exit', (code, signal) => resolve({ code, signal })));
      // Signalled on the first log line that says the destination workers run, i.e. before start() returned.
      let buffered = '';
      worker.stdout!.on('data', (d: Buffer) => {
        buffered += d.toString();
        if (buffered.includes('"msg":"delivering"')) { buffered = ''; worker!.kill('SIGTERM'); }
      });
      expect(await exited, stderr).toEqual({ code: 0, signal: null });
      const job = await relay.queue('dest').getJob(relay.keys.jobId('dest', id));
      expect(await job!.getState()).toBe('waiting');
      expect(job!.attemptsMade).toBe(0);
    } finally {
      worker?.kill('SIGKILL');
      await relay.close();
    }
  }, 60_000);
});
