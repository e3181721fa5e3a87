import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import axios, { type AxiosInstance, type CreateAxiosDefaults } from 'axios';
import { linkedSignal } from './linked-signal.js';
import { axiosProxy, proxyFor, type NetworkSettings } from './network.js';

/** Where a request's link to the client's `closed` signal is kept until its answer (or failure) arrives. */
const UNLINK = Symbol('leadrelay.unlink');

/** A client certificate (mutual TLS) and the CAs trusted for the server, as PEM. */
export interface ClientTls {
  cert?: string;
  key?: string;
  /** Replaces Node's CA list for this destination (a private CA); default the system's. */
  ca?: string;
}

export interface DestinationHttpOptions {
  /** Per-request timeout in ms. */
  timeoutMs: number;
  /** Sockets per host (default: unlimited, as Node's). */
  maxSockets?: number;
  /** `text` (default): the body as received, for our own parsing; `json`: axios parses it. */
  responseType?: 'text' | 'json';
  /** Proxy settings (default: the HTTPS_PROXY / NO_PROXY environment). */
  network?: NetworkSettings;
  /** Client certificate and trusted CAs for https targets (default none: server-authenticated TLS only). */
  tls?: ClientTls;
  /** Extra axios defaults (e.g. `transformRequest` to send a signed body byte for byte). */
  axios?: CreateAxiosDefaults;
}

/** An axios client as every destination needs it, with the keep-alive agents it owns. */
export interface DestinationHttp {
  http: AxiosInstance;
  /** Frees the keep-alive sockets (DestinationClient.close). */
  close(): void;
}

/**
 * Every status comes back to the destination's own classifier (axios throws on none), and redirects
 * are never followed: a redirect means a wrong URL, and following it would carry a body, a token or a
 * signature to another host (or turn a POST into a GET).
 */
export function createDestinationHttp(options: DestinationHttpOptions): DestinationHttp {
  const agentOptions = { keepAlive: true, ...(options.maxSockets ? { maxSockets: options.maxSockets } : {}) };
  const tls = options.tls ?? {};
  const tlsOptions = { ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: tls.key } : {}), ...(tls.ca ? { ca: tls.ca } : {}) };
  const agents = { http: new HttpAgent(agentOptions), https: new HttpsAgent({ ...agentOptions, ...tlsOptions }) };
  const responseType = options.responseType ?? 'text';
  const http = axios.create({
    timeout: options.timeoutMs,
    validateStatus: () => true,
    maxRedirects: 0,
    httpAgent: agents.http,
    httpsAgent: agents.https,
    responseType,
    ...(responseType === 'text' ? { transformResponse: [(data: unknown) => data] } : {}),
    ...options.axios,
  });
  // The proxy is chosen per request URL (NO_PROXY is per host). axios tunnels https through it with CONNECT and
  // carries the https agent's certificate options to the origin; `false` keeps it from reading the environment again.
  // close() cancels calls still in flight (e.g. abandoned at the worker's shutdown deadline) and any made after it.
  const closed = new AbortController();
  http.interceptors.request.use((config) => {
    if (config.signal) {
      const link = linkedSignal([config.signal as AbortSignal, closed.signal]);
      config.signal = link.signal;
      (config as { [UNLINK]?: () => void })[UNLINK] = link.dispose;
    } else config.signal = closed.signal;
    const target = axios.getUri(config);
    const proxy = proxyFor(target, options.network);
    config.proxy = proxy ? axiosProxy(proxy) : false;
    return config;
  });
  const unlink = (config: unknown) => (config as { [UNLINK]?: () => void } | undefined)?.[UNLINK]?.();
  http.interceptors.response.use((res) => { unlink(res.config); return res; }, (e: unknown) => { unlink((e as { config?: unknown } | undefined)?.config); throw e; });
  return {
    http,
    close() {
      closed.abort();
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
