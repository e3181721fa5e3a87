import type { ResolvedReferralsSource, ResolvedSource } from '@leadrelay/config';
import type { Relay } from '@leadrelay/queue';
import type { PullSource } from './pull-source.js';
import type { PartnerCenterAuth } from './partner-center-auth.js';
import { sourceState } from './source-health.js';

/** The Partner Center sign-in of a referrals source, its MSAL cache encrypted in Redis under `secrets.key`. */
export async function partnerCenterAuth(s: ResolvedReferralsSource, relay: Relay): Promise<PartnerCenterAuth> {
  const key = relay.config.secrets.key;
  if (!key) throw new Error(`source '${s.id}' needs secrets.key (32 bytes, base64; e.g. \${LEADRELAY_SECRET_KEY}) to encrypt its token cache`);
  const [{ PartnerCenterAuth: Auth }, { EncryptedTokenCache }] = await Promise.all([import('./partner-center-auth.js'), import('./encrypted-token-cache.js')]);
  return new Auth(s, new EncryptedTokenCache(relay.redis, sourceState(relay, s.id).tokenCacheKey, key));
}

/** The reader of a configured source, by type; each type loads its client library only when used. */
export async function createPullSource(s: ResolvedSource, relay: Relay): Promise<PullSource> {
  if (s.type === 'azure-table') {
    const { TableSource } = await import('./table-source.js');
    return new TableSource(s);
  }
  const { ReferralsSource } = await import('./referrals-source.js');
  return new ReferralsSource(s, await partnerCenterAuth(s, relay));
}
