import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConnectProxy } from '../../../../test/helpers/connect-proxy.js';
import { readTlsCert } from '../../../../test/helpers/tls-cert.js';
import { DestinationPool } from './destination-pool.js';

async function text(res: { body: AsyncIterable<Buffer | string> }): Promise<string> {
  let out = '';
  for await (const chunk of res.body) out += String(chunk);
  return out;
}

describe('DestinationPool', () => {
  let proxy: ConnectProxy;
  let secure: Server;
  let secureUrl: string;
  let plain: Server;
  let plainUrl: string;
  /** Requests the plain-http server is still answering (it answers /slow only when told). */
  const hanging: (() => void)[] = [];

  beforeAll(async () => {
    proxy = await ConnectProxy.start();
    secure = createHttpsServer(readTlsCert(inject('tlsCert')), (req, res) => { req.resume(); req.on('end', () => res.end('ok')); });
    await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
    secureUrl = `https://127.0.0.1:${(secure.address() as { port: number }).port}`;
    plain = createServer((req, res) => {
      if (req.url === '/slow') { hanging.push(() => res.end('late')); return; }
      res.writeHead(req.url === '/moved' ? 302 : 200, req.url === '/moved' ? { location: 'http://elsewhere.example/' } : {}).end(`got ${req.method} ${req.url}`);
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    plainUrl = `http://127.0.0.1:${(plain.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    for (const answer of hanging) answer();
    await proxy.stop();
    await new Promise((resolve) => secure.close(resolve));
    await new Promise((resolve) => plain.close(resolve));
  });

  it('tunnels https targets through the proxy with CONNECT and forwards plain-http ones; noProxy hosts go direct', async () => {
    const pool = new DestinationPool({ timeoutMs: 2000, network: { proxy: { url: proxy.url } } });
    try {
      proxy.clear();
      const viaTunnel = await pool.request('POST', new URL(`${secureUrl}/hook`), { 'content-type': 'application/json' }, '{"a":1}', AbortSignal.timeout(2000));
      expect(viaTunnel.status).toBe(200);
      await text(viaTunnel);
      const forwarded = await pool.request('GET', new URL(`${plainUrl}/x?y=1`), {}, undefined, AbortSignal.timeout(2000));
      expect(await text(forwarded)).toBe('got GET /x?y=1');
      expect(Object.fromEntries(proxy.tunnels)).toEqual({ [new URL(secureUrl).host]: 1 });
      expect(Object.fromEntries(proxy.forwarded)).toEqual({ [new URL(plainUrl).host]: 1 });
    } finally {
      pool.close();
    }
    const direct = new DestinationPool({ timeoutMs: 2000, network: { proxy: { url: proxy.url, noProxy: ['127.0.0.1'] } } });
    try {
      proxy.clear();
      await text(await direct.request('GET', new URL(`${plainUrl}/d`), {}, undefined, AbortSignal.timeout(2000)));
      expect(proxy.total).toBe(0);
    } finally {
      direct.close();
    }
  });

  it('hands back redirects as they are, without following them', async () => {
    const pool = new DestinationPool({ timeoutMs: 2000 });
    try {
      const res = await pool.request('POST', new URL(`${plainUrl}/moved`), {}, 'x', AbortSignal.timeout(2000));
      expect(res.status).toBe(302);
      expect(res.headers.location).toBe('http://elsewhere.example/');
      await text(res);
    } finally {
      pool.close();
    }
  });

  it('close() cancels a call in flight and refuses calls made after it', async () => {
    const pool = new DestinationPool({ timeoutMs: 10_000 });
    const inFlight = pool.request('GET', new URL(`${plainUrl}/slow`), {}, undefined, AbortSignal.timeout(10_000));
    await expect.poll(() => hanging.length).toBe(1);
    pool.close();
    await expect(inFlight).rejects.toThrow();
    await expect(pool.request('GET', new URL(`${plainUrl}/x`), {}, undefined, AbortSignal.timeout(2000))).rejects.toThrow();
  });
});
