import { describe, expect, it } from 'vitest';
import { SecretRedactor } from './redact.js';

describe('SecretRedactor', () => {
  it('hides secret-named values, connection-string keys and URL passwords wherever they appear', () => {
    const r = new SecretRedactor();
    r.addFromObject({
      redis: { url: 'redis://:s3cretRedisPass@redis:6379' },
      intake: { apiKeys: ['key-aaaaaaaaaaaaaaaa'] },
      destinations: [
        { clientSecret: 'cs-XYZ-123456', headers: { 'X-Api-Key': 'hdr-key-987654' }, clientId: 'public-client-id' },
        { connectionString: 'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=QUJDREVGR0g=;EndpointSuffix=core.windows.net' },
      ],
    });
    const text = 'a s3cretRedisPass b key-aaaaaaaaaaaaaaaa c cs-XYZ-123456 d hdr-key-987654 e QUJDREVGR0g= f public-client-id';
    const out = r.redact(text);
    for (const s of ['s3cretRedisPass', 'key-aaaaaaaaaaaaaaaa', 'cs-XYZ-123456', 'hdr-key-987654', 'QUJDREVGR0g=']) expect(out).not.toContain(s);
    expect(out).toContain('public-client-id');
  });
});
