import { defineDestination } from '../destination.js';
import { RESERVED_HEADERS, httpsSettings } from './settings.js';

/** RFC 9110 token characters: what a header name may contain. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const https = defineDestination({
  type: 'https',
  title: 'HTTPS webhook',
  settings: httpsSettings,
  refine: (s, report) => {
    if (s.signingSecret && s.signingSecrets) report(['signingSecrets'], 'cannot be used together with signingSecret: list every secret in signingSecrets');
    for (const [name, value] of Object.entries(s.headers)) {
      if (!HEADER_NAME.test(name)) report(['headers', name], 'is not a valid HTTP header name');
      else if (RESERVED_HEADERS.includes(name.toLowerCase())) report(['headers', name], `is set by LeadRelay itself (${RESERVED_HEADERS.join(', ')} cannot be configured)`);
      if (/[\r\n\0]/.test(value)) report(['headers', name], 'must not contain line breaks');
    }
  },
  outboundUrls: (s) => [{ path: ['url'], url: s.url }],
  defaults: { concurrency: 8 },
  create: async (settings, ctx) => new (await import('./https-client.js')).HttpsClient(settings, ctx),
});
