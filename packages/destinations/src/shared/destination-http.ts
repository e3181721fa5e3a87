import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import axios, { type AxiosInstance, type CreateAxiosDefaults } from 'axios';

export interface DestinationHttpOptions {
  /** Per-request timeout in ms. */
  timeoutMs: number;
  /** Sockets per host (default: unlimited, as Node's). */
  maxSockets?: number;
  /** `text` (default): the body as received, for our own parsing; `json`: axios parses it; `stream`: read it yourself. */
  responseType?: 'text' | 'json' | 'stream';
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
  const agents = { http: new HttpAgent(agentOptions), https: new HttpsAgent(agentOptions) };
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
  return {
    http,
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
