import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { ICachePlugin, TokenCacheContext } from '@azure/msal-node';
import type { RedisClient } from '@leadrelay/queue';

/** The cache cannot be read with this key: it was written with another `secrets.key`, or altered. */
export class TokenCacheKeyError extends Error {
  readonly code = 'LR_TOKEN_CACHE_KEY';
  constructor(key: string) {
    super(`the token cache at ${key} cannot be decrypted with the configured secrets.key (the key changed, or the value was altered)`);
    this.name = 'TokenCacheKeyError';
  }
}

/**
 * MSAL's token cache (it holds the refresh token) kept in one Redis string, encrypted with AES-256-GCM
 * under `secrets.key`. The Redis key is bound in as associated data, so a value copied to another
 * source's key does not decrypt. Every worker process shares it, so a refresh token rolled by one is
 * the one the others use next.
 */
export class EncryptedTokenCache implements ICachePlugin {
  private readonly key: Buffer;

  constructor(private readonly redis: RedisClient, readonly redisKey: string, secretKey: string) {
    this.key = Buffer.from(secretKey, 'base64');
    if (this.key.length !== 32) throw new Error('secrets.key must be 32 bytes in base64 (make one with `openssl rand -base64 32`)');
  }

  async beforeCacheAccess(ctx: TokenCacheContext): Promise<void> {
    const stored = await this.redis.get(this.redisKey);
    if (stored) ctx.tokenCache.deserialize(this.decrypt(stored));
  }

  async afterCacheAccess(ctx: TokenCacheContext): Promise<void> {
    if (ctx.cacheHasChanged) await this.redis.set(this.redisKey, this.encrypt(ctx.tokenCache.serialize()));
  }

  async exists(): Promise<boolean> {
    return (await this.redis.exists(this.redisKey)) === 1;
  }

  async clear(): Promise<void> {
    await this.redis.del(this.redisKey);
  }

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(this.redisKey));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  decrypt(stored: string): string {
    try {
      if (!stored.startsWith('v1.')) throw new Error('unknown format');
      const raw = Buffer.from(stored.slice(3), 'base64');
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(this.redisKey));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new TokenCacheKeyError(this.redisKey);
    }
  }
}
