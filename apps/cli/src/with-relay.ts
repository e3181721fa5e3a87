import { Relay, withTimeout } from '@leadrelay/queue';
import { CliFailure } from './cli-failure.js';
import type { CommandContext } from './command-context.js';

/** Where Redis is, without its password, for messages. */
export function redisLocation(url: string, cluster?: string[]): string {
  const strip = (u: string) => u.replace(/\/\/[^@/]*@/, '//');
  return cluster?.length ? `cluster ${cluster.map(strip).join(', ')}` : strip(url);
}

/** Opens the shared state, fails with a readable message when Redis is down, always closes. */
export async function withRelay<T>(ctx: CommandContext, fn: (relay: Relay) => Promise<T>): Promise<T> {
  const config = ctx.config();
  const relay = new Relay(config);
  try {
    if (!(await waitForPing(relay))) {
      throw new CliFailure(`Redis at ${redisLocation(config.redis.url, config.redis.cluster)} is not reachable: start it, or fix redis.url in ${ctx.configPath()}`);
    }
    return await fn(relay);
  } finally {
    await relay.close();
  }
}

/** One ping, bounded: a Redis that is down must not keep the CLI waiting through reconnect attempts. */
function waitForPing(relay: Relay, timeoutMs = 3000): Promise<boolean> {
  return withTimeout(relay.ping(), timeoutMs).catch(() => false);
}
