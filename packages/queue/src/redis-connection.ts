import { Cluster, Redis, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

export interface RedisSettings {
  url: string;
  /** Redis Cluster seed nodes; when set, `url` is ignored. */
  cluster?: string[];
}

/**
 * `fail-fast` is for request paths (intake, CLI): a command fails at once while Redis is down so
 * the caller can answer 503. `blocking` is for BullMQ workers, which must wait out reconnects.
 */
export type ConnectionRole = 'fail-fast' | 'blocking';

function optionsFor(role: ConnectionRole): RedisOptions {
  return role === 'fail-fast'
    // Commands wait through one reconnect attempt at most (so startup needs no ready-wait), and never hang past commandTimeout.
    // No auto-pipelining: since the accept is one small script per lead, intake answers about 25 % more requests
    // per second without it (bench/README.md), and ioredis 5's auto-pipeline can miss a command defined after
    // it opened (`pipeline[name] is not a function`, ioredis#1931).
    ? { maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 3000, retryStrategy: (n) => Math.min(n * 200, 2000) }
    : { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(n * 200, 2000) };
}

function nodeOf(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379) };
}

/** One ioredis client (or Cluster) for `redis.url` / `redis.cluster`; rediss:// turns TLS on. */
export function createRedisConnection(settings: RedisSettings, role: ConnectionRole): RedisClient {
  const options = optionsFor(role);
  if (settings.cluster && settings.cluster.length > 0) {
    const first = new URL(settings.cluster[0]!);
    const redisOptions: RedisOptions = {
      ...options,
      ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
      ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
      ...(first.protocol === 'rediss:' ? { tls: {} } : {}),
    };
    return new Cluster(settings.cluster.map(nodeOf), {
      redisOptions,
      clusterRetryStrategy: (n) => Math.min(n * 200, 2000),
    });
  }
  return new Redis(settings.url, { ...options, ...(settings.url.startsWith('rediss:') ? { tls: {} } : {}) });
}

/** Resolves when the client is connected, or rejects after `timeoutMs`. */
export async function waitUntilConnected(client: RedisClient, timeoutMs = 5000): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`Redis not reachable within ${timeoutMs} ms`)); }, timeoutMs);
    const onReady = () => { cleanup(); resolve(); };
    const cleanup = () => { clearTimeout(timer); client.off('ready', onReady); };
    client.on('ready', onReady);
  });
}
