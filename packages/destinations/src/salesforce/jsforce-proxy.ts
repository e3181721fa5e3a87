import { createRequire } from 'node:module';

let done = false;

/**
 * jsforce's request defaults take `https_proxy` / `HTTPS_PROXY` from the environment when it loads and apply it to
 * every Connection without a proxy of its own, ignoring NO_PROXY. LeadRelay decides per destination (`proxyFor`) and
 * passes `httpProxy` explicitly, so the environment default is cleared once: a host in NO_PROXY is then reached directly.
 */
export function disableJsforceEnvProxy(): void {
  if (done) return;
  done = true;
  const request = createRequire(import.meta.url)('jsforce/lib/request') as { setDefaults?: (d: Record<string, unknown>) => void };
  request.setDefaults?.({ httpProxy: undefined, timeout: process.env.HTTP_TIMEOUT ? parseInt(process.env.HTTP_TIMEOUT, 10) : undefined, followRedirect: true });
}
