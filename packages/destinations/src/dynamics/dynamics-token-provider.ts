import {
  ConfidentialClientApplication, LogLevel, PublicClientApplication, type AccountInfo, type AuthenticationResult, type Configuration,
} from '@azure/msal-node';
import { RetryableError, ThrottledError, isDeliveryError, type DeliveryError } from '@leadrelay/core';
import type { Logger } from '@leadrelay/observability';
import { MSAL_DEFAULT_THROTTLE_MS, classifyTokenFailure, type TokenFailureContext } from './dynamics-token-errors.js';
import type { DynamicsSettings } from './settings.js';
import { SharedToken, type NetworkSettings, type TokenRejection } from '../shared/index.js';
import { MsalNetworkClient } from './msal-network-client.js';

export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';

export interface DynamicsTokenProviderOptions {
  /** Longest wait for one token (MSAL's token POST has no timeout of its own). Default 30 000 ms. */
  timeoutMs?: number;
  logger?: Logger;
  /** The egress proxy for Entra ID (default: the HTTPS_PROXY / NO_PROXY environment). */
  network?: NetworkSettings;
}

/** `https://org.crm.dynamics.com/` → `https://org.crm.dynamics.com` (scopes and audiences have no trailing slash). */
export function environmentUrl(instanceUrl: string): string {
  return instanceUrl.trim().replace(/\/+$/, '');
}

/**
 * Access tokens for one Dynamics destination, from ONE MSAL application object so its in-memory cache serves
 * every lead until the token nears expiry (MSAL caches tokens per application object).
 * - `client-secret`: ConfidentialClientApplication.acquireTokenByClientCredential, scope `<env>/.default`.
 * - `password`: PublicClientApplication.acquireTokenByUsernamePassword (ROPC), scope `<env>/user_impersonation`;
 *   later calls go through acquireTokenSilent (cache, then the refresh token).
 * Any authority host other than Microsoft's is listed in knownAuthorities, so MSAL never calls Microsoft's
 * instance discovery (sovereign clouds, test servers). Failures come out as classified DeliveryErrors.
 */
export class DynamicsTokenProvider {
  private readonly app: ConfidentialClientApplication | PublicClientApplication;
  private readonly scope: string;
  private readonly authority: string;
  private readonly timeoutMs: number;
  private readonly failureContext: TokenFailureContext;
  private account?: AccountInfo;
  /** One token request at a time: concurrent deliveries on a cold cache share it. */
  private readonly token = new SharedToken((force) => this.acquire(force));
  /** Until when MSAL replays a cached 429/5xx instead of calling Entra ID (it throttles itself after those). */
  private msalThrottledUntil = 0;
  private readonly network: MsalNetworkClient;

  constructor(private readonly auth: DynamicsSettings['auth'], instanceUrl: string, options: DynamicsTokenProviderOptions = {}) {
    const env = environmentUrl(instanceUrl);
    const host = (auth.authorityHost ?? DEFAULT_AUTHORITY_HOST).replace(/\/+$/, '');
    this.authority = `${host}/${encodeURIComponent(auth.tenantId.trim())}`;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.scope = auth.mode === 'client-secret' ? `${env}/.default` : `${env}/user_impersonation`;
    const secrets = [auth.mode === 'client-secret' ? auth.clientSecret : auth.password].filter((s) => s.length > 0);
    this.failureContext = {
      mode: auth.mode, tenantId: auth.tenantId, clientId: auth.clientId, username: auth.mode === 'password' ? auth.username : undefined,
      instanceUrl: env, authorityHost: host, authority: this.authority,
      scrub: (text) => secrets.reduce((t, s) => t.split(s).join('[redacted]'), text),
    };

    let knownAuthorities: string[] = [];
    try {
      const u = new URL(host);
      if (u.origin !== DEFAULT_AUTHORITY_HOST) knownAuthorities = [u.host];
    } catch {
      // An unparsable host is reported by MSAL (url_parse_error) on the first token request.
    }
    this.network = new MsalNetworkClient({ timeoutMs: this.timeoutMs, network: options.network });
    const logger = options.logger;
    const config: Configuration = {
      auth: {
        clientId: auth.clientId,
        authority: this.authority,
        ...(knownAuthorities.length > 0 ? { knownAuthorities } : {}),
        ...(auth.mode === 'client-secret' ? { clientSecret: auth.clientSecret } : {}),
      },
      system: {
        networkClient: this.network,
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: LogLevel.Warning,
          loggerCallback: (_level, message) => logger?.debug({ msal: this.failureContext.scrub(message) }, 'msal'),
        },
      },
    };
    this.app = auth.mode === 'client-secret' ? new ConfidentialClientApplication(config) : new PublicClientApplication(config);
  }

  /**
   * A valid access token. `rejected`: a token the API just refused (401): a fresh one is fetched unless another
   * caller already replaced it, so concurrent 401s cause a single refresh.
   */
  /** Runs `fn` with a token; when its answer says the token was refused, once more with a fresh one. */
  withToken<T>(fn: (token: string) => Promise<T>, rejection: TokenRejection<T>): Promise<T> {
    return this.token.withToken(fn, rejection);
  }

  /** Frees MSAL's keep-alive sockets. */
  close(): void {
    this.network.close();
  }

  getToken(options: { rejected?: string } = {}): Promise<string> {
    return options.rejected !== undefined ? this.token.renew(options.rejected) : this.token.get();
  }

  private async acquire(force: boolean): Promise<{ token: string; expiresAt?: number }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RetryableError(`Microsoft Entra ID (${this.authority}) did not answer the token request within ${this.timeoutMs} ms`, { destinationCode: 'ETIMEDOUT' })), this.timeoutMs);
    });
    try {
      const result = await Promise.race([this.request(force), timeout]);
      if (!result?.accessToken) throw new RetryableError('Microsoft Entra ID returned no access token');
      if (result.account) this.account = result.account;
      return { token: result.accessToken, expiresAt: result.expiresOn?.getTime() };
    } catch (err) {
      throw await this.classify(err);
    } finally {
      clearTimeout(timer);
    }
  }

  private async request(force: boolean): Promise<AuthenticationResult | null> {
    if (this.app instanceof ConfidentialClientApplication) {
      // skipCache after a 401: the cached token was refused, get a new one from the endpoint.
      return this.app.acquireTokenByClientCredential({ scopes: [this.scope], skipCache: force });
    }
    const auth = this.auth as Extract<DynamicsSettings['auth'], { mode: 'password' }>;
    if (this.account && !force) {
      try {
        return await this.app.acquireTokenSilent({ account: this.account, scopes: [this.scope] });
      } catch {
        // Refresh token gone or refused: sign in with the password again below.
      }
    }
    // ROPC is what Microsoft's "Office 365" option amounts to today; it is deprecated in MSAL but still served.
    return this.app.acquireTokenByUsernamePassword({ scopes: [this.scope], username: auth.username, password: auth.password });
  }

  private async classify(err: unknown): Promise<DeliveryError> {
    if (isDeliveryError(err)) return err;
    const e = err as { errorCode?: string; errorNo?: string | number; status?: number };
    const serverBusy = e.status === 429 || (e.status !== undefined && e.status >= 500) || Number(e.errorNo) === 90055
      || e.errorCode === 'server_error' || e.errorCode === 'temporarily_unavailable';
    if (serverBusy) {
      this.msalThrottledUntil = Date.now() + MSAL_DEFAULT_THROTTLE_MS;
    } else if (e.status === undefined && e.errorCode && /^\d+( \d+)*$/.test(e.errorCode) && Date.now() < this.msalThrottledUntil) {
      // MSAL replaying its cached 429/5xx (errorCode = the AADSTS codes): wait the window out, do not burn attempts.
      const base = classifyTokenFailure(err, this.failureContext);
      return new ThrottledError(`${base.message} (MSAL holds token requests back after Entra ID throttled or failed)`, this.msalThrottledUntil - Date.now(), {
        destinationCode: base.destinationCode,
      });
    }
    if (e.errorCode === 'openid_config_error' || e.errorCode === 'endpoints_resolution_error') return this.diagnoseDiscovery();
    return classifyTokenFailure(err, this.failureContext);
  }

  /**
   * MSAL only says it could not resolve the authority's endpoints (`<authority>/v2.0/.well-known/openid-configuration`,
   * fetched when the host is a known authority rather than Microsoft's built-in one). Ask once more ourselves
   * to tell an unknown tenant (Entra answers AADSTS90002 there) from an unreachable or wrong authority host.
   */
  private async diagnoseDiscovery(): Promise<DeliveryError> {
    const url = `${this.authority}/v2.0/.well-known/openid-configuration`;
    try {
      const res = await this.network.http.get(url, { timeout: Math.min(this.timeoutMs, 10_000), responseType: 'text', transformResponse: [(d: unknown) => d] });
      let body: { error?: string; error_description?: string; error_codes?: number[]; token_endpoint?: string } | undefined;
      try {
        body = JSON.parse(String(res.data)) as typeof body;
      } catch {
        body = undefined;
      }
      if (body?.error_codes?.length || body?.error) {
        return classifyTokenFailure({
          errorCode: body.error, errorNo: body.error_codes?.[0], status: res.status,
          errorMessage: `Description: ${body.error_description ?? body.error}`,
        }, this.failureContext);
      }
      if (res.status >= 500 || res.status === 429) return classifyTokenFailure({ errorCode: 'server_error', status: res.status, errorMessage: `HTTP ${res.status} from ${url}` }, this.failureContext);
      return classifyTokenFailure({ errorCode: 'invalid_authority', errorMessage: `${url} answered HTTP ${res.status} without an OpenID configuration` }, this.failureContext);
    } catch (probe) {
      const code = (probe as { code?: string }).code;
      return classifyTokenFailure({ errorCode: 'network_error', errorMessage: `${url}: ${code ?? (probe as Error).message}` }, this.failureContext);
    }
  }
}
