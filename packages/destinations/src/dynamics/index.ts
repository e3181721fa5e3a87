import { defineDestination } from '../destination.js';
import { dynamicsSettings } from './settings.js';
import { DynamicsClient } from './dynamics-client.js';

export const dynamics = defineDestination({
  type: 'dynamics',
  title: 'Dynamics 365 (Dataverse)',
  settings: dynamicsSettings,
  outboundUrls: (s) => [{ path: ['instanceUrl'], url: s.instanceUrl }, { path: ['auth', 'authorityHost'], url: s.auth.authorityHost }],
  defaults: { concurrency: 4 },
  create: (settings, ctx) => new DynamicsClient(settings, ctx),
});
