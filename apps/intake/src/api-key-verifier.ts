import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export type ApiKeyVerdict = 'ok' | 'missing' | 'invalid';

const BEARER = /^bearer[ \t]+(.+)$/i;

/**
 * Checks the intake API key (README: Intake HTTP API): `Authorization: Bearer <key>`, `X-Api-Key: <key>` or `?code=<key>`.
 * Keys are compared as SHA-256 digests with timingSafeEqual, so neither a key's content nor its
 * length leaks through response timing; every configured key is compared, whatever matched.
 */
export class ApiKeyVerifier {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    if (keys.length === 0) throw new Error('intake.apiKeys needs at least one key');
    this.digests = keys.map(digest);
  }

  verify(headers: IncomingHttpHeaders, query: unknown): ApiKeyVerdict {
    let presented = false;
    let ok = false;
    const auth = headers.authorization;
    if (typeof auth === 'string') {
      const m = BEARER.exec(auth);
      // Another scheme (e.g. Basic added by a proxy) is not our key: look at the other places.
      if (m) { presented = true; ok = this.matches(m[1]!.trim()); }
    }
    const header = headers['x-api-key'];
    if (!ok && typeof header === 'string') { presented = true; ok = this.matches(header.trim()); }
    const code = firstValue((query as Record<string, unknown> | undefined)?.code);
    if (!ok && code !== undefined) { presented = true; ok = this.matches(code); }
    return ok ? 'ok' : presented ? 'invalid' : 'missing';
  }

  private matches(candidate: string): boolean {
    if (candidate === '') return false;
    const d = digest(candidate);
    let found = false;
    for (const key of this.digests) found = timingSafeEqual(d, key) || found;
    return found;
  }
}

function digest(value: string): Buffer {
  // The one-shot hash with a hex answer is several times faster than createHash (and than its 'buffer' output).
  return Buffer.from(hash('sha256', value, 'hex'), 'hex');
}

function firstValue(v: unknown): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' ? s : undefined;
}
