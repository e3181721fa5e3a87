import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Lead } from '@leadrelay/core';
import { createLogger, silentLogger } from '@leadrelay/observability';
import { Relay, type AcceptResult } from '@leadrelay/queue';
import { freePort, silentRuntime } from '../../../test/helpers/index.js';
import { canonical, intakeConfig, KEY_ONE, LogCapture, postLead } from '../test/intake-fixture.js';
import { buildIntakeServer, startIntake, type RunningIntake } from './index.js';

/** A real Relay whose accept waits for `release()`: holds a request in flight while the server closes. */
class GatedRelay extends Relay {
  entered!: Promise<void>;
  private enter!: () => void;
  private gate!: Promise<void>;
  release!: () => void;
  arm(): void {
    this.entered = new Promise((r) => { this.enter = r; });
    this.gate = new Promise((r) => { this.release = r; });
  }

  override async accept(lead: Lead, options: { clientId: boolean }): Promise<AcceptResult> {
    this.enter();
    await this.gate;
    return super.accept(lead, options);
  }
}

let running: RunningIntake | undefined;

afterEach(async () => {
  await running?.stop();
  running = undefined;
});

/** POSTs a body in chunks without Content-Length (Transfer-Encoding: chunked). */
function postChunked(url: string, chunks: string[]): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/v1/leads`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY_ONE } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    const write = (i: number) => {
      if (i === chunks.length) { req.end(); return; }
      // The server may answer 413 and close before every chunk is written.
      if (!req.write(chunks[i]!)) req.once('drain', () => write(i + 1));
      else setImmediate(() => write(i + 1));
    };
    write(0);
  });
}

describe('startIntake', () => {
  it('listens on a real port: leads, probes, and a chunked body over the limit is 413', async () => {
    running = await startIntake({ config: intakeConfig(inject('redisUrl')), host: '127.0.0.1', port: 0, runtime: silentRuntime(null) });
    expect(running.address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await (await fetch(`${running.address}/healthz`)).json()).toEqual({ status: 'ok' });

    const res = await fetch(`${running.address}/v1/leads`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY_ONE}`, 'content-type': 'application/json' },
      body: JSON.stringify(canonical({ description: 'over a real socket' })),
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ duplicate: false, destinations: ['all'] });

    const big = await postChunked(running.address, Array.from({ length: 8 }, (_, i) => (i === 0 ? '{"description":"' : 'x'.repeat(1000))));
    expect(big.status).toBe(413);
    expect(big.type).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(big.body)).toMatchObject({ type: 'https://leadrelay.dev/problems/payload-too-large', status: 413 });

    // A body within the limit, chunked, is fine.
    const small = await postChunked(running.address, [JSON.stringify(canonical({ description: 'chun' })).slice(0, 20), JSON.stringify(canonical({ description: 'chun' })).slice(20)]);
    expect(small.status).toBe(202);
  });

  it('answers requests the HTTP parser rejects with problem+json too', async () => {
    running = await startIntake({ config: intakeConfig(inject('redisUrl')), host: '127.0.0.1', port: 0, runtime: silentRuntime(null) });
    const port = Number(new URL(running.address).port);
    const raw = (text: string) => new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.end(text));
      let out = '';
      socket.on('data', (d) => { out += d.toString(); });
      socket.on('close', () => resolve(out));
      socket.on('error', reject);
    });
    const garbage = await raw('NOT HTTP AT ALL\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(garbage).toMatch(/content-type: application\/problem\+json/i);
    expect(JSON.parse(garbage.slice(garbage.indexOf('\r\n\r\n') + 4))).toMatchObject({ type: 'https://leadrelay.dev/problems/bad-request', status: 400 });
    const overflow = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`);
    expect(overflow).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(overflow.slice(overflow.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 431 });
  });

  it('uses the runtime it is given (logger, metrics) and logs one start line, the shape every app logs', async () => {
    const before = process.listeners('SIGTERM').length;
    const log = new LogCapture();
    const config = intakeConfig(inject('redisUrl'));
    const runtime = { ...silentRuntime(config), logger: createLogger({ name: 'leadrelay-intake', destination: log }) };
    running = await startIntake({ config, host: '127.0.0.1', port: 0, runtime });
    // Signals are runUntilSignal's, as for every app: none installed here.
    expect(process.listeners('SIGTERM')).toHaveLength(before);
    expect(log.records.filter((r) => r.msg === 'intake started')).toEqual([expect.objectContaining({ app: 'intake', address: running.address, durability: 'none' })]);
    const res = await fetch(`${running.address}/v1/leads`, {
      method: 'POST', headers: { 'x-api-key': KEY_ONE, 'content-type': 'application/json' }, body: JSON.stringify(canonical({ description: 'counted in the given registry' })),
    });
    expect(res.status).toBe(202);
    expect(await runtime.metrics.registry.getSingleMetricAsString('leadrelay_leads_received_total')).toMatch(/format="canonical"} 1/);
    await running.stop();
    await expect(fetch(`${running.address}/healthz`)).rejects.toThrow();
    expect(log.records.map((r) => r.msg)).toContain('intake stopped');
  });

  it('starts while Redis is down: not ready, leads get 503, and it says so once in the log', async () => {
    const log = new LogCapture();
    const config = intakeConfig(`redis://127.0.0.1:${await freePort()}`);
    running = await startIntake({ config, host: '127.0.0.1', port: 0, runtime: { ...silentRuntime(config), logger: createLogger({ destination: log }) } });
    expect((await fetch(`${running.address}/readyz`)).status).toBe(503);
    const res = await fetch(`${running.address}/v1/leads`, {
      method: 'POST', headers: { 'x-api-key': KEY_ONE, 'content-type': 'application/json' }, body: JSON.stringify(canonical()),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(log.records.filter((r) => r.msg === 'Redis does not answer yet; leads get 503 until it does')).toHaveLength(1);
  });

  it('on close, finishes a lead already being accepted before closing', async () => {
    const config = intakeConfig(inject('redisUrl'));
    const relay = new GatedRelay(config);
    relay.arm();
    const app = buildIntakeServer({ config, relay, logger: silentLogger });
    try {
      await app.ready();
      const inflight = postLead(app, canonical({ id: 'in-flight-at-close' }));
      await relay.entered;
      const closed = app.close();
      relay.release();
      const done = await inflight;
      expect(done.statusCode, done.body).toBe(202);
      await closed;
      expect(await relay.status('in-flight-at-close')).toBeDefined();
    } finally {
      await relay.close();
    }
  });
});
