import { createServer, get } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readTlsCert } from './tls-cert.js';

// The global setup generates the cert and sets NODE_EXTRA_CA_CERTS before forking: prove a worker really trusts it.
describe('test TLS certificate', () => {
  const server = createServer(readTlsCert(inject('tlsCert')), (_req, res) => res.end('trusted'));
  let port = 0;
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('is trusted by fetch (undici) for 127.0.0.1 and localhost', async () => {
    expect(process.env.NODE_EXTRA_CA_CERTS).toBeTruthy();
    expect(await (await fetch(`https://127.0.0.1:${port}/`)).text()).toBe('trusted');
    expect(await (await fetch(`https://localhost:${port}/`)).text()).toBe('trusted');
  });

  it('is trusted by node:https without passing a CA', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      get(`https://127.0.0.1:${port}/`, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => { text += d.toString(); });
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    expect(body).toBe('trusted');
  });
});
