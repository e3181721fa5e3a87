import type { TestProject } from 'vitest/node';
import { Azurite } from './azurite.js';
import { resolveTestRedis } from './redis-server.js';
import { TestTlsCertificate, type TlsCertPaths } from './tls-cert.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    azuriteConnectionString: string;
    /** A self-signed cert for 127.0.0.1/localhost that every test worker trusts (NODE_EXTRA_CA_CERTS). */
    tlsCert: TlsCertPaths;
  }
}

/** One Redis and one Azurite for the whole run; each test file isolates itself with its own Redis prefix and table. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Before any worker forks: they inherit this env, and Node reads NODE_EXTRA_CA_CERTS only at start.
  const tls = new TestTlsCertificate();
  tls.trustInChildProcesses();
  project.provide('tlsCert', { certPath: tls.certPath, keyPath: tls.keyPath });
  const redis = await resolveTestRedis();
  const azurite = await Azurite.start();
  project.provide('redisUrl', redis.url);
  project.provide('azuriteConnectionString', azurite.connectionString);
  return async () => {
    await azurite.stop();
    await redis.server?.destroy();
    tls.remove();
  };
}
