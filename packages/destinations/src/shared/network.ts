import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { InvalidConfigurationError } from '@leadrelay/core';

// proxy-from-env ships no types; its one function: the proxy the *_PROXY / NO_PROXY environment gives for a URL, or ''.
const { getProxyForUrl } = createRequire(import.meta.url)('proxy-from-env') as { getProxyForUrl(url: string): string };

/** An outbound HTTP(S) proxy every destination client tunnels through (`network.proxy`). */
export interface ProxySettings {
  /** `http://[user:password@]host:port` of the proxy. */
  url: string;
  /** Hosts reached directly: `example.com` (and its subdomains), `.example.com`, `host:port`, `*` (none proxied). Default none. */
  noProxy?: string[];
}

/** How destination clients reach the network; unset keys fall back to the `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` environment. */
export interface NetworkSettings {
  proxy?: ProxySettings;
}

/**
 * The proxy URL to use for `target`, or undefined to connect directly. `network.proxy` wins over the
 * environment; without it `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (either case) decide, read the way
 * curl and axios read them (proxy-from-env).
 */
export function proxyFor(target: string, network?: NetworkSettings): string | undefined {
  if (network?.proxy) return bypassed(target, network.proxy.noProxy ?? []) ? undefined : network.proxy.url;
  return getProxyForUrl(target) || undefined;
}

/** The same NO_PROXY rules as proxy-from-env, applied to a configured list (that library reads only the environment). */
function bypassed(target: string, noProxy: string[]): boolean {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return false;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return noProxy.some((raw) => {
    const entry = raw.trim().toLowerCase();
    if (!entry) return false;
    if (entry === '*') return true;
    const m = /^(.+?)(?::(\d+))?$/.exec(entry)!;
    if (m[2] && m[2] !== port) return false;
    const name = m[1]!.replace(/^\*?\./, '');
    return host === name || host.endsWith(`.${name}`);
  });
}

/** A proxy URL in the shape axios's `proxy` option takes. */
export function axiosProxy(proxyUrl: string): { protocol: string; host: string; port: number; auth?: { username: string; password: string } } {
  const u = new URL(proxyUrl);
  return {
    protocol: u.protocol.replace(/:$/, ''),
    host: u.hostname,
    port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)),
    ...(u.username ? { auth: { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } } : {}),
  };
}

/** A proxy URL without its credentials, for messages. */
export function safeProxy(proxyUrl: string): string {
  try {
    const u = new URL(proxyUrl);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(invalid proxy url)';
  }
}

/** Client-certificate settings as configured: each value is PEM text or the path of a PEM file. */
export interface ClientTlsSettings {
  cert?: string;
  key?: string;
  ca?: string;
}

/** Reads PEM files named in the settings (inline PEM is used as it is). */
export function readClientTls(settings: ClientTlsSettings | undefined): { cert?: string; key?: string; ca?: string } | undefined {
  if (!settings) return undefined;
  const out: { cert?: string; key?: string; ca?: string } = {};
  for (const k of ['cert', 'key', 'ca'] as const) {
    const v = settings[k];
    if (v === undefined) continue;
    try {
      out[k] = v.includes('-----BEGIN') ? v : readFileSync(v, 'utf8');
    } catch (e) {
      throw new InvalidConfigurationError(`tls.${k}: cannot read ${v} (${(e as NodeJS.ErrnoException).code ?? String(e)})`, {
        destinationCode: 'TLS_FILE', remediation: `Give tls.${k} the path of a readable PEM file (or the PEM text itself).`,
      });
    }
  }
  return out;
}
