import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/**
 * Cross-site request forgery defence. Browsers resend basic-auth credentials with any request to
 * the ops host, including a form another site submits, so credentials alone prove nothing.
 *
 * 1. Every state-changing request must be same-origin when the browser says where it comes from
 *    (`Sec-Fetch-Site`, `Origin`, else `Referer`). Clients that send none of them (curl, scripts)
 *    are not browsers and cannot be forged cross-site.
 * 2. HTML forms also carry a token: an HMAC of the user name keyed by the ops password, so every
 *    ops instance behind a load balancer accepts it, it changes when the password does, and
 *    another site cannot read or compute it.
 */
export class CsrfGuard {
  private readonly key: Buffer;

  constructor(password: string) {
    this.key = createHash('sha256').update('leadrelay-ops-csrf\u0000').update(password).digest();
  }

  token(username: string): string {
    return createHmac('sha256', this.key).update(username).digest('base64url');
  }

  validToken(username: string, token: unknown): boolean {
    if (typeof token !== 'string') return false;
    const want = Buffer.from(this.token(username));
    const got = Buffer.from(token);
    return got.length === want.length && timingSafeEqual(got, want);
  }

  /** Why the request is not same-origin, or undefined when it is (or cannot be a browser's cross-site request). */
  crossSiteReason(req: FastifyRequest): string | undefined {
    const site = header(req, 'sec-fetch-site');
    if (site && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site: ${site}`;
    // Behind a proxy the browser's host may arrive as X-Forwarded-Host (a cross-site form cannot set headers).
    const hosts = [header(req, 'host'), header(req, 'x-forwarded-host')?.split(',')[0]?.trim()];
    const origin = header(req, 'origin');
    if (origin !== undefined) return hosts.some((h) => sameHost(origin, h)) ? undefined : 'Origin is another site';
    const referer = header(req, 'referer');
    if (referer !== undefined) return hosts.some((h) => sameHost(referer, h)) ? undefined : 'Referer is another site';
    return undefined;
  }
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Origin `null` (sandboxed frames, some redirects) or an unparsable one is never same-origin. Default ports compare equal. */
function sameHost(url: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    const from = new URL(url);
    return from.host === new URL(`${from.protocol}//${host}`).host;
  } catch {
    return false;
  }
}
