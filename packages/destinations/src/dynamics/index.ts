import { defineDestination } from '../destination.js';
import { dynamicsSettings } from './settings.js';

export const dynamics = defineDestination({
  type: 'dynamics',
  title: 'Dynamics 365 (Dataverse)',
  settings: dynamicsSettings,
  outboundUrls: (s) => [{ path: ['instanceUrl'], url: s.instanceUrl }, { path: ['auth', 'authorityHost'], url: s.auth.authorityHost }],
  defaults: { concurrency: 4 },
  create: async (settings, ctx) => new (await import('./dynamics-client.js')).DynamicsClient(settings, ctx),
});
