import { spawnSync } from 'node:child_process';
import { freePort } from './free-port.js';
import { RedisServer } from './redis-server.js';

export function redisCliOnPath(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v redis-cli'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function cli(args: string[], timeoutMs = 30_000): string {
  const r = spawnSync(redisCliOnPath()!, args, { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')} failed: ${r.error?.message ?? ''}${r.stdout}${r.stderr}`);
  return r.stdout;
}

/**
 * A Redis Cluster of `masters` masters (and `replicas` replicas of each, default none) on loopback, each a `redis-server --cluster-enabled yes`
 * of its own, joined with `redis-cli --cluster create`. Bus ports are chosen free too (`--cluster-port`), so
 * nothing depends on port+10000 being available.
 */
export class RedisCluster {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(masters = 3, replicas = 0): Promise<RedisCluster> {
    if (!redisCliOnPath()) throw new Error('redis-cli is not on PATH: install it (apt-get install redis-tools or redis-server)');
    const nodes: RedisServer[] = [];
    try {
      for (let i = 0; i < masters * (1 + replicas); i++) {
        const node = new RedisServer(await freePort(), [
          '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(await freePort()),
          '--cluster-node-timeout', '5000', '--appendonly', 'no',
        ]);
        nodes.push(node);
        await node.start();
      }
      cli(['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes']);
      const cluster = new RedisCluster(nodes);
      await cluster.waitUntilOk();
      return cluster;
    } catch (e) {
      await Promise.allSettled(nodes.map((n) => n.destroy()));
      throw e;
    }
  }

  /** Seed URLs, as `redis.cluster` takes them. */
  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /** Waits until every node reports `cluster_state:ok` and knows all masters. */
  async waitUntilOk(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const infos = this.nodes.map((n) => cli(['-p', String(n.port), 'cluster', 'info']));
      if (infos.every((i) => /cluster_state:ok/.test(i) && new RegExp(`cluster_known_nodes:${this.nodes.length}\\b`).test(i))) return;
      last = infos.join('\n');
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the Redis Cluster did not reach cluster_state:ok in ${timeoutMs} ms:\n${last}`);
  }

  /** Ports of the nodes that are replicas now, each with the port of its master. */
  replicas(): { port: number; masterPort: number }[] {
    const lines = cli(['-p', String(this.nodes[0]!.port), 'cluster', 'nodes']).split('\n').filter(Boolean).map((l) => l.split(' '));
    const portOf = (addr: string) => Number(addr.split('@')[0]!.split(':')[1]);
    const byId = new Map(lines.map((f) => [f[0]!, portOf(f[1]!)]));
    return lines.filter((f) => f[2]!.includes('slave')).map((f) => ({ port: portOf(f[1]!), masterPort: byId.get(f[3]!)! }));
  }

  /**
   * `CLUSTER FAILOVER` on a replica (the coordinated kind: it catches up with its master first); resolves once it
   * is a master. Redis aborts a coordinated failover the replica could not finish in 5 s (a loaded machine), so it
   * is asked again every 6 s, and with FORCE (no handshake with the master, as when the master is unreachable) in
   * the second half of the timeout.
   */
  async failover(replicaPort: number, timeoutMs = 30_000): Promise<void> {
    const started = Date.now();
    const deadline = started + timeoutMs;
    let askedAt = 0;
    while (!/role:master/.test(cli(['-p', String(replicaPort), 'info', 'replication']))) {
      if (Date.now() > deadline) throw new Error(`replica ${replicaPort} did not take over in ${timeoutMs} ms`);
      if (Date.now() - askedAt > 6_000) {
        try {
          cli(['-p', String(replicaPort), 'cluster', 'failover', ...(Date.now() - started > timeoutMs / 2 ? ['force'] : [])]);
        } catch (err) {
          if (askedAt === 0) throw err; // a re-ask may meet the previous failover still in progress
        }
        askedAt = Date.now();
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.waitUntilOk(timeoutMs);
  }

  /** Every key on each master (SCAN), in node order: which keys live where. */
  keysByNode(): string[][] {
    return this.nodes.map((n) => cli(['-p', String(n.port), '--scan']).split('\n').filter(Boolean));
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => n.destroy()));
  }
}
