import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on a free loopback port in front of one target (Redis, a destination), whose faults a
 * test switches on and off: `cut` destroys every connection and refuses new ones (a network partition,
 * a load balancer dropping connections), `slow` delays every chunk in both directions (a congested link),
 * keeping the bytes' order.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private cutUntil = 0;
  private latencyMs = 0;

  private constructor(private readonly server: Server, readonly port: number, private readonly target: { host: string; port: number }) {}

  static async start(target: { host?: string; port: number }): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => proxy!.accept(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new TcpProxy(server, (server.address() as { port: number }).port, { host: target.host ?? '127.0.0.1', port: target.port });
    return proxy;
  }

  /** Drops every open connection and refuses new ones for `ms`. */
  cut(ms: number): void {
    this.cutUntil = Date.now() + ms;
    for (const s of this.sockets) s.destroy();
  }

  /** Delays every chunk by `ms` (0: none) in both directions, for connections open now and later. */
  slow(ms: number): void {
    this.latencyMs = ms;
  }

  private accept(client: Socket): void {
    if (Date.now() < this.cutUntil) {
      client.destroy();
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.setNoDelay(true);
      s.on('error', () => { client.destroy(); upstream.destroy(); });
      s.on('close', () => { this.sockets.delete(s); client.destroy(); upstream.destroy(); });
    }
    this.pipe(client, upstream);
    this.pipe(upstream, client);
  }

  /** Copies `from` to `to`, each chunk no earlier than `latencyMs` after it arrived and never before the one ahead of it. */
  private pipe(from: Socket, to: Socket): void {
    let lastDue = 0;
    from.on('data', (chunk) => {
      if (this.latencyMs === 0 && lastDue <= Date.now()) {
        to.write(chunk);
        return;
      }
      const due = Math.max(Date.now() + this.latencyMs, lastDue);
      lastDue = due;
      setTimeout(() => { if (!to.destroyed) to.write(chunk); }, due - Date.now());
    });
    from.on('end', () => setTimeout(() => to.end(), Math.max(0, lastDue - Date.now())));
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
