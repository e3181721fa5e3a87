import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';

/**
 * A real forward proxy for tests: CONNECT tunnels (https targets, and http targets of agents that always
 * tunnel) and absolute-URI requests (plain-http forwarding), each counted by the `host:port` it reached.
 */
export class ConnectProxy {
  /** CONNECT tunnels opened, by target `host:port`. */
  readonly tunnels = new Map<string, number>();
  /** Absolute-URI requests forwarded, by target `host:port`. */
  readonly forwarded = new Map<string, number>();
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(): Promise<ConnectProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const proxy = new ConnectProxy(server, `http://127.0.0.1:${port}`);
    server.on('connection', (s) => { proxy.sockets.add(s); s.on('close', () => proxy.sockets.delete(s)); });
    server.on('connect', (req, client: Socket, head: Buffer) => {
      const target = req.url ?? '';
      proxy.tunnels.set(target, (proxy.tunnels.get(target) ?? 0) + 1);
      const [host, port] = [target.slice(0, target.lastIndexOf(':')).replace(/^\[|\]$/g, ''), Number(target.slice(target.lastIndexOf(':') + 1))];
      const upstream = connect(port, host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      proxy.sockets.add(upstream);
      upstream.on('close', () => proxy.sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    server.on('request', (req, res) => {
      let url: URL;
      try {
        url = new URL(req.url ?? '');
      } catch {
        res.writeHead(400).end('absolute URI required');
        return;
      }
      proxy.forwarded.set(url.host, (proxy.forwarded.get(url.host) ?? 0) + 1);
      const up = httpRequest({ host: url.hostname, port: url.port || 80, method: req.method, path: url.pathname + url.search, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.writeHead(502).end());
      req.pipe(up);
    });
    return proxy;
  }

  /** Tunnels plus forwarded requests, over every target. */
  get total(): number {
    let n = 0;
    for (const m of [this.tunnels, this.forwarded]) for (const v of m.values()) n += v;
    return n;
  }

  clear(): void {
    this.tunnels.clear();
    this.forwarded.clear();
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
