import { LogLevel, PublicClientApplication } from '@azure/msal-node';
import type { ResolvedReferralsSource } from '@leadrelay/config';
import type { EncryptedTokenCache } from './encrypted-token-cache.js';
import { SourceAuthError } from './source-auth-error.js';

/** Delegated scope of the Partner Center API; `offline_access` brings the refresh token that keeps a headless poller signed in. */
export const PARTNER_CENTER_SCOPES = ['https://api.partner.microsoft.com/.default', 'offline_access'];
const MICROSOFT_AUTHORITY_HOST = 'https://login.microsoftonline.com';

/** What `leadrelay login` shows the person signing in. */
export interface DeviceCodePrompt {
  message: string;
  userCode: string;
  verificationUri: string;
}

/**
 * App+User sign-in for the Referrals API (it accepts no app-only token): one device-code sign-in by a
 * Referrals Admin (`leadrelay login`), then silent renewal from the refresh token in the shared,
 * encrypted MSAL cache. No password grant: MFA, now enforced for Partner Center, breaks it.
 */
export class PartnerCenterAuth {
  private readonly app: PublicClientApplication;

  constructor(private readonly settings: ResolvedReferralsSource, readonly cache: EncryptedTokenCache) {
    const host = settings.authorityHost.replace(/\/+$/, '');
    this.app = new PublicClientApplication({
      auth: {
        clientId: settings.clientId, authority: `${host}/${settings.tenantId}`,
        // Another host (sovereign cloud, test server) is trusted as given, so MSAL does not ask Microsoft's instance discovery.
        ...(host !== MICROSOFT_AUTHORITY_HOST ? { knownAuthorities: [new URL(host).host] } : {}),
      },
      cache: { cachePlugin: cache },
      system: { loggerOptions: { logLevel: LogLevel.Error, piiLoggingEnabled: false, loggerCallback: () => undefined } },
    });
  }

  /** The device-code sign-in; resolves with the signed-in user once they approve in a browser. */
  async login(prompt: (p: DeviceCodePrompt) => void, timeoutSeconds = 900): Promise<{ username: string }> {
    const result = await this.app.acquireTokenByDeviceCode({
      scopes: PARTNER_CENTER_SCOPES, timeout: timeoutSeconds,
      deviceCodeCallback: (r) => prompt({ message: r.message, userCode: r.userCode, verificationUri: r.verificationUri }),
    });
    if (!result) throw new Error('the device-code sign-in returned no token');
    return { username: result.account?.username ?? 'unknown' };
  }

  /** A bearer token, renewed silently; a sign-in that can no longer be renewed pauses the source. */
  async accessToken(forceRefresh = false): Promise<string> {
    const accounts = await this.app.getTokenCache().getAllAccounts();
    const account = accounts[0];
    if (!account) throw this.signInAgain('nobody has signed in to Partner Center for this source yet');
    try {
      const r = await this.app.acquireTokenSilent({ account, scopes: PARTNER_CENTER_SCOPES, forceRefresh });
      return r.accessToken;
    } catch (e) {
      const err = e as { errorCode?: string; errorMessage?: string; message?: string };
      const text = `${err.errorMessage ?? ''} ${err.message ?? ''}`;
      const aadsts = /AADSTS(\d+)/.exec(text)?.[1];
      const why: Record<string, string> = {
        700082: 'the Partner Center sign-in expired: its refresh token was not used for too long (AADSTS700082)',
        50173: 'the Partner Center sign-in was revoked (password reset or sessions revoked; AADSTS50173)',
        50076: 'the Partner Center sign-in needs multi-factor authentication again (AADSTS50076)',
        50079: 'the Partner Center sign-in needs multi-factor authentication registration (AADSTS50079)',
        65001: 'the app registration has no consent for the Microsoft Partner permission (AADSTS65001)',
      };
      if (aadsts && why[aadsts]) throw this.signInAgain(why[aadsts]!);
      if (err.errorCode === 'invalid_grant' || err.errorCode === 'interaction_required' || err.errorCode === 'no_tokens_found') {
        throw this.signInAgain(`the Partner Center sign-in can no longer be renewed (${err.errorCode}${aadsts ? `, AADSTS${aadsts}` : ''})`);
      }
      if (err.errorCode === 'invalid_client' || err.errorCode === 'unauthorized_client') {
        throw new SourceAuthError(`Entra ID refused the app registration ${this.settings.clientId} (${err.errorCode}${aadsts ? `, AADSTS${aadsts}` : ''})`,
          `Check the source's tenantId and clientId, and that the app registration allows public client flows; then \`leadrelay login ${this.settings.id}\`.`);
      }
      throw e;
    }
  }

  private signInAgain(reason: string): SourceAuthError {
    return new SourceAuthError(reason,
      `Run \`leadrelay login ${this.settings.id}\` and sign in as a user with the Referrals Admin role (device code in a browser); polling resumes after the sign-in.`);
  }
}
