import type { TestProject } from 'vitest/node';
import { Azurite } from './azurite.js';
import { resolveTestRedis } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    azuriteConnectionString: string;
  }
}

/** One Redis and one Azurite for the whole run; each test file isolates itself with its own Redis prefix and table. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await resolveTestRedis();
  const azurite = await Azurite.start();
  project.provide('redisUrl', redis.url);
  project.provide('azuriteConnectionString', azurite.connectionString);
  return async () => {
    await azurite.stop();
    await redis.server?.destroy();
  };
}
