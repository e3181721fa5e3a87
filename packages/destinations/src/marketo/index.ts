import { defineDestination } from '../destination.js';
import { marketoSettings } from './settings.js';

export const marketo = defineDestination({
  type: 'marketo',
  title: 'Marketo',
  settings: marketoSettings,
  refine: (s, report) => {
    if (s.operation === 'push' && !s.programName) report(['programName'], "is required when operation is 'push'");
    if (s.operation === 'form' && s.formId === undefined) report(['formId'], "is required when operation is 'form'");
  },
  outboundUrls: (s) => [{ path: ['restUrl'], url: s.restUrl }, ...(s.identityUrl ? [{ path: ['identityUrl'], url: s.identityUrl }] : [])],
  // Marketo: 100 calls per 20 s and 10 concurrent calls per instance, shared by every integration.
  defaults: { concurrency: 5, rateLimit: { max: 80, perMs: 20_000 } },
  // Sync and push take up to 300 records per call; Submit Form takes one record per call.
  batching: (s) => ({ maxSize: s.operation === 'form' ? 1 : s.batchSize, maxWaitMs: s.batchWait }),
  create: async (settings, ctx) => new (await import('./marketo-client.js')).MarketoClient(settings, ctx),
});
