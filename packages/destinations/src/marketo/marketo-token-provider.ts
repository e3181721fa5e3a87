import type { AxiosInstance } from 'axios';
import {
  InvalidAuthenticationError, InvalidConfigurationError, RetryableError, type DeliveryError,
} from '@leadrelay/core';
import { SharedToken, networkFailure } from '../shared/index.js';
import { readTokenResponse } from './marketo-wire.js';

export interface MarketoTokenProviderOptions {
  /** Identity base, e.g. https://123-ABC-456.mktorest.com/identity. */
  identityUrl: string;
  clientId: string;
  clientSecret: string;
  /** Destination id, for remediations. */
  destinationId: string;
  http: AxiosInstance;
  /** Default Date.now. */
  now?: () => number;
  /** Renew this long before the token runs out (default 60 s). */
  renewBeforeMs?: number;
}

/**
 * Marketo access tokens (client credentials, `GET <identity>/oauth/token`), cached until shortly
 * before `expires_in` runs out. One client instance serves many concurrent calls: at most one
 * Identity request is in flight, every caller waiting for a token shares it (the shared `SharedToken`,
 * as for Salesforce and Dynamics).
 */
export class MarketoTokenProvider {
  private readonly shared: SharedToken;
  private readonly now: () => number;
  private readonly renewBeforeMs: number;
  /** Identity requests made (for diagnostics and tests). */
  requests = 0;

  constructor(private readonly options: MarketoTokenProviderOptions) {
    this.now = options.now ?? Date.now;
    this.renewBeforeMs = options.renewBeforeMs ?? 60_000;
    // SharedToken renews `renewBeforeMs` before the expiry it is given: fetch() hands it Marketo's own renewal
    // point (see there) as the expiry, with no margin of its own.
    this.shared = new SharedToken(() => this.fetch(), { renewBeforeMs: 0, now: this.now });
  }

  /** A token that is valid by our clock; fetches one (shared) when none is cached. */
  token(): Promise<string> {
    return this.shared.get();
  }

  /**
   * Marketo answered 601/602 for `token`: forget it so the next `token()` asks Identity. Only the
   * first of several concurrent failures with the same token clears it; later ones see a newer token.
   */
  invalidate(token: string): void {
    this.shared.forget(token);
  }

  private async fetch(): Promise<{ token: string; expiresAt: number }> {
    const { identityUrl, clientId, clientSecret } = this.options;
    const askedAt = this.now();
    this.requests++;
    let res;
    try {
      res = await this.options.http.request({
        method: 'GET',
        url: `${identityUrl}/oauth/token`,
        params: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }),
        headers: { Accept: 'application/json' },
      });
    } catch (e) {
      // Never pass the axios error on: its config holds the URL with client_secret.
      throw this.networkError(e);
    }
    const body = readTokenResponse(res.data);
    if (res.status === 200 && body) {
      const lifetimeMs = Math.max(0, body.expires_in) * 1000;
      const expiresAt = askedAt + lifetimeMs;
      // Identity hands back the *same* token with its remaining life when asked before it expires,
      // so renewing early only helps while plenty of life is left; near the end, use it to the last
      // second and let a 602 trigger the renewal.
      const renewAt = lifetimeMs > 2 * this.renewBeforeMs ? expiresAt - this.renewBeforeMs : expiresAt;
      return { token: body.access_token, expiresAt: renewAt };
    }
    throw this.httpError(res.status, res.data, body !== undefined);
  }

  /** Removes anything secret from text the server or the network stack produced. */
  private scrub(text: string): string {
    const s = this.options.clientSecret;
    let out = text.length > 300 ? `${text.slice(0, 300)}…` : text;
    if (s) out = out.split(s).join('[redacted]').split(encodeURIComponent(s)).join('[redacted]');
    // Strip any URL query string (the token URL carries client_secret).
    return out.replace(/\?[^\s"']*/g, '?…');
  }

  private describeBody(data: unknown): string {
    if (data && typeof data === 'object') {
      const o = data as Record<string, unknown>;
      const parts = [o.error, o.error_description].filter((v) => typeof v === 'string') as string[];
      if (parts.length > 0) return this.scrub(parts.join(': '));
    }
    return typeof data === 'string' && data.trim() !== '' && !data.trimStart().startsWith('<') ? this.scrub(data.trim()) : '';
  }

  private httpError(status: number, data: unknown, hadToken: boolean): DeliveryError {
    const id = this.options.destinationId;
    const detail = this.describeBody(data);
    const message = `Marketo Identity answered HTTP ${status}${detail ? `: ${detail}` : ''}`;
    const common = { status, destinationCode: String(status) };
    if (status === 401) {
      return new InvalidAuthenticationError(message, {
        ...common,
        remediation: 'Marketo Identity rejected the client credentials: check clientId/clientSecret of the LeadRelay custom service '
          + `(Marketo Admin > Integration > LaunchPoint > View Details), update leadrelay.yaml, then \`leadrelay resume ${id}\`.`,
      });
    }
    if (status === 200 && !hadToken) {
      return new InvalidConfigurationError('Marketo Identity answered HTTP 200 without an access_token', {
        ...common,
        remediation: 'identityUrl does not point at a Marketo Identity service: copy the Identity URL from Marketo Admin > Integration > Web Services, '
          + `then \`leadrelay resume ${id}\`.`,
      });
    }
    if (status === 408 || status === 429 || status >= 500) return new RetryableError(message, common);
    return new InvalidConfigurationError(message, {
      ...common,
      remediation: 'Marketo Identity refused the token request: check identityUrl (Admin > Integration > Web Services; usually restUrl + /identity) '
        + `and clientId/clientSecret, then \`leadrelay resume ${id}\`.`,
    });
  }

  private networkError(e: unknown): DeliveryError {
    const err = e as { code?: unknown; message?: unknown };
    const code = typeof err?.code === 'string' ? err.code : undefined;
    const text = typeof err?.message === 'string' ? this.scrub(err.message) : 'request failed';
    return networkFailure('Marketo Identity', code, text);
  }
}
