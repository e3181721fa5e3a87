import { defineDestination } from '../destination.js';
import { httpsSettings } from './settings.js';
import { HttpsClient } from './https-client.js';

export const https = defineDestination({
  type: 'https',
  title: 'HTTPS webhook',
  settings: httpsSettings,
  outboundUrls: (s) => [{ path: ['url'], url: s.url }],
  defaults: { concurrency: 8 },
  create: (settings, ctx) => new HttpsClient(settings, ctx),
});
