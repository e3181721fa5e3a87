import { AuthError, type INetworkModule, type NetworkRequestOptions, type NetworkResponse } from '@azure/msal-node';
import { createDestinationHttp, type DestinationHttp, type NetworkSettings } from '../shared/index.js';

/**
 * MSAL's HTTP client, on the same axios transport as the Web API calls: MSAL Node 5 and later dropped its own
 * `proxyUrl` option and tells apps needing a proxy to supply an INetworkModule. Answers of every status come back
 * to MSAL (it classifies them); a failure to connect becomes MSAL's `network_error`, as with its built-in client.
 */
export class MsalNetworkClient implements INetworkModule {
  private readonly web: DestinationHttp;

  constructor(options: { timeoutMs: number; network?: NetworkSettings }) {
    this.web = createDestinationHttp({ timeoutMs: options.timeoutMs, network: options.network, responseType: 'json' });
  }

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }

  /** The transport itself, for our own requests to the authority (same proxy). */
  get http(): DestinationHttp['http'] {
    return this.web.http;
  }

  close(): void {
    this.web.close();
  }

  private async send<T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    try {
      const res = await this.web.http.request<T>({
        method, url, headers: options?.headers ?? {},
        ...(method === 'POST' ? { data: options?.body ?? '' } : {}),
        ...(timeout ? { timeout } : {}),
      });
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && v !== null) headers[k.toLowerCase()] = String(v);
      return { headers, body: res.data, status: res.status };
    } catch (e) {
      throw new AuthError('network_error', `Network request failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
