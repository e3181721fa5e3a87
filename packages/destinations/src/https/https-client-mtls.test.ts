import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DeliveryError, InvalidConfigurationError, type Lead } from '@leadrelay/core';
import { readTlsCert, TestTlsCertificate } from '../../../../test/helpers/tls-cert.js';
import { ConnectProxy } from '../../../../test/helpers/connect-proxy.js';
import { contractContext } from '../__tests__/contract-kit.js';
import { HttpsClient } from './https-client.js';
import { httpsSettings } from './settings.js';

/** A receiver that requires a client certificate signed by one CA (here: the client's self-signed cert). */
describe('https destination with a client certificate (mutual TLS)', () => {
  let server: Server;
  let url: string;
  let proxy: ConnectProxy;
  const client = new TestTlsCertificate();
  const peers: string[] = [];
  beforeAll(async () => {
    const serverCert = readTlsCert(inject('tlsCert'));
    server = createServer({ ...serverCert, requestCert: true, rejectUnauthorized: true, ca: readTlsCert(client).cert }, (req, res) => {
      peers.push((req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '');
      req.resume();
      req.on('end', () => res.writeHead(200).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
    proxy = await ConnectProxy.start();
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await proxy.stop();
    client.remove();
  });

  const lead = (id: string): Lead => ({
    id, source: 'AzureMarketplace', action: 'INS', offer: 'contoso.widget-pro', createdAt: '2026-03-01T10:20:30.000Z', testLead: false,
    customer: { firstName: 'Grace', lastName: 'Hopper', email: 'grace@contoso.com', company: 'Navy', country: 'US' },
  });
  const make = (extra: Record<string, unknown>, network?: typeof contractContext.network) =>
    new HttpsClient({ ...httpsSettings.parse({ url, ...extra }), id: 'mtls', type: 'https', enabled: true, allowInsecure: false }, { ...contractContext, ...(network ? { network } : {}) });

  it('presents the configured certificate (file paths) and is accepted', async () => {
    const c = make({ tls: { cert: client.certPath, key: client.keyPath } });
    peers.length = 0;
    await expect(c.deliver(lead('mtls-1'))).resolves.toEqual({});
    expect(peers).toEqual(['localhost']);
    await c.close();
  });

  it('without a certificate the receiver refuses the handshake: a transient network failure', async () => {
    const c = make({});
    const e = await c.deliver(lead('mtls-2')).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(DeliveryError);
    expect((e as DeliveryError).kind).toBe('transient');
    await c.close();
  });

  it('the certificate (inline PEM) still reaches the receiver through a CONNECT proxy', async () => {
    const pem = readTlsCert(client);
    const c = make({ tls: { cert: pem.cert, key: pem.key } }, { proxy: { url: proxy.url, noProxy: [] } });
    proxy.clear();
    peers.length = 0;
    await expect(c.deliver(lead('mtls-3'))).resolves.toEqual({});
    expect(peers).toEqual(['localhost']);
    expect([...proxy.tunnels.values()]).toEqual([1]);
    await c.close();
  });

  it('an unreadable certificate file is a configuration error naming the key', () => {
    expect(() => make({ tls: { cert: '/nonexistent/client.crt', key: client.keyPath } })).toThrow(InvalidConfigurationError);
    expect(() => make({ tls: { cert: '/nonexistent/client.crt', key: client.keyPath } })).toThrow(/tls\.cert: cannot read \/nonexistent\/client\.crt \(ENOENT\)/);
  });
});
