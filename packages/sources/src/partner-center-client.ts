import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { ResolvedReferralsSource } from '@leadrelay/config';
import type { PartnerCenterAuth } from './partner-center-auth.js';
import { SourceAuthError } from './source-auth-error.js';
import { SourceThrottledError } from './source-throttled-error.js';

export interface PartnerCenterClientOptions {
  /** Retries of a call that timed out, each with the same MS-RequestId. Default 2. */
  timeoutRetries?: number;
  /** A 429 asking to wait at most this long is waited out inside the call; longer, the poll is retried later. Default 60 s. */
  maxInlineWaitMs?: number;
  /** 429s waited out inside one call before the poll gives up and is retried. Default 3. */
  throttleRetries?: number;
}

/** One page of the referral list as the API returns it. */
export interface ReferralPage<T> {
  value: T[];
  '@odata.nextLink'?: string;
}

/** 412: the referral changed since its eTag was read. */
export class ReferralConflictError extends Error {
  readonly code = 'LR_REFERRAL_CONFLICT';
  constructor(id: string) {
    super(`referral ${id} changed since it was read (412 Precondition Failed)`);
    this.name = 'ReferralConflictError';
  }
}

/**
 * The Partner Center Referrals API over axios, with the headers Microsoft asks for: a new
 * `MS-CorrelationId` on every call, and an `MS-RequestId` idempotency key kept when a timed-out call is
 * retried. 401 renews the token once; a second 401 or a 403 (no Referrals role) pauses the source.
 */
export class PartnerCenterClient {
  private readonly http: AxiosInstance;

  constructor(private readonly settings: ResolvedReferralsSource, private readonly auth: PartnerCenterAuth, private readonly options: PartnerCenterClientOptions = {}) {
    this.http = axios.create({ timeout: settings.timeout, validateStatus: () => true, maxRedirects: 0 });
  }

  /** The first list URL; later pages come from `@odata.nextLink`, followed exactly as given. */
  listUrl(filter: string, top: number): string {
    const q = new URLSearchParams({ $filter: filter, $orderby: 'updatedDateTime asc', $top: String(top) });
    return `${this.settings.apiUrl.replace(/\/+$/, '')}/v1.0/engagements/referrals?${q.toString().replace(/\+/g, '%20')}`;
  }

  referralUrl(id: string): string {
    return `${this.settings.apiUrl.replace(/\/+$/, '')}/v1.0/engagements/referrals/${encodeURIComponent(id)}`;
  }

  async getPage<T>(url: string): Promise<ReferralPage<T>> {
    const r = await this.call('GET', url);
    if (r.status !== 200) throw this.failure(r, 'listing referrals');
    return r.data as ReferralPage<T>;
  }

  async getReferral<T>(id: string): Promise<T> {
    const r = await this.call('GET', this.referralUrl(id));
    if (r.status !== 200) throw this.failure(r, `reading referral ${id}`);
    return r.data as T;
  }

  /** JSON Patch (only `replace` and `add` are accepted) guarded by the eTag read. */
  async patchReferral(id: string, ops: { op: 'replace' | 'add'; path: string; value: unknown }[], eTag?: string): Promise<void> {
    const r = await this.call('PATCH', this.referralUrl(id), ops, eTag ? { 'If-Match': eTag } : {});
    if (r.status === 412) throw new ReferralConflictError(id);
    if (r.status !== 200 && r.status !== 204) throw this.failure(r, `updating referral ${id}`);
  }

  private async call(method: 'GET' | 'PATCH', url: string, body?: unknown, extra: Record<string, string> = {}): Promise<AxiosResponse> {
    const requestId = randomUUID();
    let timeouts = 0;
    let throttles = 0;
    let renewed = false;
    for (;;) {
      const token = await this.auth.accessToken(renewed);
      let r: AxiosResponse;
      try {
        r = await this.http.request({
          method, url, data: body,
          headers: {
            Authorization: `Bearer ${token}`, Accept: 'application/json', 'MS-RequestId': requestId, 'MS-CorrelationId': randomUUID(),
            ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...extra,
          },
        });
      } catch (e) {
        const code = (e as { code?: string }).code;
        if ((code === 'ECONNABORTED' || code === 'ETIMEDOUT') && timeouts < (this.options.timeoutRetries ?? 2)) {
          timeouts++;
          continue;
        }
        throw new Error(`Partner Center did not answer ${method} ${new URL(url).pathname} (${code ?? (e as Error).message})`);
      }
      if (r.status === 401 && !renewed) {
        renewed = true;
        continue;
      }
      if (r.status === 429) {
        const waitMs = retryAfterMs(r.headers['retry-after']);
        if (waitMs <= (this.options.maxInlineWaitMs ?? 60_000) && throttles < (this.options.throttleRetries ?? 3)) {
          throttles++;
          await sleep(waitMs);
          continue;
        }
        throw new SourceThrottledError(`Partner Center throttled the source (429, Retry-After ${Math.round(waitMs / 1000)} s)`, waitMs);
      }
      return r;
    }
  }

  private failure(r: AxiosResponse, what: string): Error {
    const detail = (r.data as { code?: string; description?: string } | undefined)?.description ?? '';
    const requestId = r.headers['request-id'] ? `, Request-ID ${r.headers['request-id']}` : '';
    if (r.status === 401) {
      return new SourceAuthError(`Partner Center refused the token while ${what} (401${requestId})`,
        `Run \`leadrelay login ${this.settings.id}\` as a user with the Referrals Admin role; the Referrals API takes App+User tokens only (no app-only access).`);
    }
    if (r.status === 403) {
      return new SourceAuthError(`the signed-in user may not do this: ${what} (403${requestId}${detail ? `: ${detail}` : ''})`,
        `Give the signed-in user the Referrals Admin role in Partner Center (Referrals User sees only referrals whose team includes them and cannot write back), then \`leadrelay resume ${this.settings.id}\`.`);
    }
    return new Error(`Partner Center answered ${r.status} while ${what}${requestId}${detail ? `: ${detail}` : ''}`);
  }
}

/** `Retry-After` in seconds or as an HTTP date; 30 s when absent or unreadable. */
function retryAfterMs(value: unknown): number {
  const v = String(value ?? '');
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? 30_000 : Math.max(0, at - Date.now());
}
