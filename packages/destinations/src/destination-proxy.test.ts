import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Lead } from '@leadrelay/core';
import { readTlsCert } from '../../../test/helpers/tls-cert.js';
import { ConnectProxy } from '../../../test/helpers/connect-proxy.js';
import { contractContext, contractId, type ContractFixture } from './__tests__/contract-kit.js';

// The proxy is in the environment before the clients' libraries load, as in a real deployment: jsforce reads
// HTTPS_PROXY once at load and would apply it to every call, NO_PROXY or not, unless LeadRelay decides instead.
const proxy = await ConnectProxy.start();
process.env.HTTPS_PROXY = proxy.url;
const { contractHarnesses } = await import('./__tests__/contract-harnesses.js');

/**
 * Every destination client (axios for https/Marketo/Web-to-Lead and the Dataverse Web API, MSAL's token requests,
 * jsforce, the Azure Tables SDK) reaches its fake through a real local proxy when one is configured or in the
 * environment, and directly when NO_PROXY (or network.proxy.noProxy) names the host.
 */
function lead(name: string): Lead {
  return {
    id: contractId(`proxy-${name}`), source: 'AzureMarketplace', action: 'INS', offer: 'contoso.widget-pro',
    customer: { firstName: 'Grace', lastName: 'Hopper', email: `${name}-${Date.now()}@contoso.com`, company: 'Navy', country: 'US' },
    createdAt: '2026-03-01T10:20:30.000Z', testLead: false,
  };
}

/** Hosts each client calls: Dynamics has Entra ID (tokens, through MSAL) and the Dataverse Web API; the others one each. */
const HOSTS: Record<string, number> = { dynamics: 2 };

const ENV_KEYS = ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'https_proxy', 'http_proxy', 'no_proxy'] as const;

afterAll(() => proxy.stop());

for (const harness of contractHarnesses) {
  describe(`egress proxy: ${harness.name}`, () => {
    let fx: ContractFixture;
    beforeAll(async () => {
      fx = await harness.start({ azuriteConnectionString: inject('azuriteConnectionString'), tls: readTlsCert(inject('tlsCert')) });
    }, 60_000);
    afterAll(async () => {
      delete contractContext.network;
      for (const k of ENV_KEYS) delete process.env[k];
      await fx?.close();
    });

    /** Builds a client under the given proxy setup (the context is read when the client is built) and delivers one lead. */
    async function deliverOne(name: string, network: typeof contractContext.network, env: Partial<Record<(typeof ENV_KEYS)[number], string>>): Promise<void> {
      for (const k of ENV_KEYS) delete process.env[k];
      Object.assign(process.env, env);
      if (network) contractContext.network = network; else delete contractContext.network;
      proxy.clear();
      fx.reset();
      const client = await fx.client();
      try {
        const l = lead(name);
        await client.deliver(l);
        expect((await fx.stored(l)).length).toBeGreaterThanOrEqual(1);
      } finally {
        await client.close?.();
      }
    }

    it('network.proxy: every call of the client goes through the proxy', async () => {
      await deliverOne('config', { proxy: { url: proxy.url, noProxy: [] } }, {});
      console.log(`${harness.name} via network.proxy: tunnels ${JSON.stringify(Object.fromEntries(proxy.tunnels))}, forwarded ${JSON.stringify(Object.fromEntries(proxy.forwarded))}`);
      expect(new Set([...proxy.tunnels.keys(), ...proxy.forwarded.keys()]).size).toBe(HOSTS[harness.name] ?? 1);
    });

    it('network.proxy.noProxy naming the host: connects directly, even with HTTPS_PROXY set', async () => {
      await deliverOne('config-bypass', { proxy: { url: proxy.url, noProxy: ['127.0.0.1', 'localhost'] } }, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url });
      expect(proxy.total).toBe(0);
    });

    it('HTTPS_PROXY / HTTP_PROXY from the environment: through the proxy', async () => {
      await deliverOne('env', undefined, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url });
      expect(new Set([...proxy.tunnels.keys(), ...proxy.forwarded.keys()]).size).toBe(HOSTS[harness.name] ?? 1);
    });

    it('NO_PROXY from the environment: directly', async () => {
      await deliverOne('env-bypass', undefined, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1,localhost' });
      expect(proxy.total).toBe(0);
    });
  });
}
