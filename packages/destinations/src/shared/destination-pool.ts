import type { Readable } from 'node:stream';
import { Agent, ProxyAgent, type Dispatcher } from 'undici';
import type { ClientTls } from './destination-http.js';
import { proxyFor, type NetworkSettings } from './network.js';

export interface DestinationPoolOptions {
  /** Longest wait in ms for the answer's headers, and between two chunks of its body (the caller's signal bounds the whole exchange). */
  timeoutMs: number;
  /** Keep-alive connections per origin; default unlimited. */
  connections?: number;
  /** Proxy settings (default: the HTTPS_PROXY / NO_PROXY environment). */
  network?: NetworkSettings;
  /** Client certificate and trusted CAs for https targets (default none: server-authenticated TLS only). */
  tls?: ClientTls;
}

/** An answer: the body is a stream the caller reads, drains or destroys. */
export interface PooledResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

/**
 * Keep-alive connection pools (undici) for a destination that makes one request per lead, where the
 * HTTP client's own cost decides throughput (the https webhook: axios spent more CPU per request than
 * the rest of a delivery). Like createDestinationHttp: every status comes back to the caller, redirects
 * are never followed (undici's `request` has no redirect handling unless asked), the proxy is chosen per
 * target (NO_PROXY is per host; https targets are tunnelled with CONNECT, carrying the client certificate
 * to the origin), and close() cancels calls in flight and any made after it.
 */
export class DestinationPool {
  private readonly direct: Agent;
  private readonly proxied = new Map<string, ProxyAgent>();
  /** The dispatcher per target origin (a destination calls one or a few). */
  private readonly byOrigin = new Map<string, Dispatcher>();
  private readonly clientOptions: Agent.Options;
  private readonly tlsOptions: { cert?: string; key?: string; ca?: string };

  constructor(private readonly options: DestinationPoolOptions) {
    const tls = options.tls ?? {};
    this.tlsOptions = { ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: tls.key } : {}), ...(tls.ca ? { ca: tls.ca } : {}) };
    this.clientOptions = {
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      ...(options.connections ? { connections: options.connections } : {}),
    };
    this.direct = new Agent({ ...this.clientOptions, connect: this.tlsOptions });
  }

  async request(method: Dispatcher.HttpMethod, url: URL, headers: Record<string, string>, body: string | undefined, signal: AbortSignal): Promise<PooledResponse> {
    const res = await this.dispatcherFor(url).request({ origin: url.origin, path: url.pathname + url.search, method, headers, body, signal });
    return { status: res.statusCode, headers: res.headers, body: res.body };
  }

  /** Cancels the calls in flight (e.g. abandoned at the worker's shutdown deadline) and frees the sockets. */
  close(): void {
    for (const d of [this.direct, ...this.proxied.values()]) d.destroy().catch(() => undefined);
  }

  private dispatcherFor(url: URL): Dispatcher {
    let d = this.byOrigin.get(url.origin);
    if (!d) {
      const proxy = proxyFor(url.href, this.options.network);
      d = proxy ? this.proxyAgent(proxy) : this.direct;
      this.byOrigin.set(url.origin, d);
    }
    return d;
  }

  private proxyAgent(proxyUrl: string): ProxyAgent {
    let p = this.proxied.get(proxyUrl);
    if (!p) {
      // The proxy URL's user:password become its Proxy-Authorization (undici reads them from the URI). https targets
      // are tunnelled with CONNECT; plain-http ones (local emulators) forwarded, as the other destination clients do.
      p = new ProxyAgent({ ...this.clientOptions, uri: proxyUrl, requestTls: this.tlsOptions, proxyTunnel: false });
      this.proxied.set(proxyUrl, p);
    }
    return p;
  }
}
