import { z } from 'zod';
import { zDuration, zHttpUrl } from '@leadrelay/core';

export const httpsSettings = z.object({
  /** Where leads are POSTed. */
  url: zHttpUrl(),
  /** `marketplace`: Microsoft's HTTPS-endpoint JSON (default); `canonical`: LeadRelay's lead JSON. */
  format: z.enum(['marketplace', 'canonical']).default('marketplace'),
  /** Extra request headers (e.g. an API key the receiver expects). */
  headers: z.record(z.string(), z.string()).default({}),
  /** Standard Webhooks secret (`whsec_<base64>`); when set every request is signed. */
  signingSecret: z.string().regex(/^whsec_[A-Za-z0-9+/=]+$/, "must be a Standard Webhooks secret: 'whsec_' followed by base64").optional(),
  /** Per-request timeout (default 10s). */
  timeout: zDuration().default(10_000),
});
export type HttpsSettings = z.output<typeof httpsSettings>;

/** Headers LeadRelay sets itself; `headers:` in the config cannot replace them (signing and parsing depend on them). */
export const RESERVED_HEADERS = ['content-type', 'content-length', 'host', 'webhook-id', 'webhook-timestamp', 'webhook-signature'];
