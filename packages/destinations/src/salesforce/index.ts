import { defineDestination } from '../destination.js';
import { OID_PATTERN, normaliseOid, salesforceSettings } from './settings.js';

export const salesforce = defineDestination({
  type: 'salesforce',
  title: 'Salesforce',
  settings: salesforceSettings,
  refine: (s, report) => {
    if (s.mode === 'web-to-lead') {
      if (!s.oid) report(['oid'], "is required when mode is 'web-to-lead'");
      else if (!OID_PATTERN.test(s.oid.trim())) report(['oid'], 'must be a Salesforce organization id: 00D followed by 12 or 15 letters and digits');
      else if (!normaliseOid(s.oid)) report(['oid'], 'is an 18-character id whose last 3 characters do not match the first 15: copy the Organization ID again from Setup → Company Information');
    } else {
      for (const key of ['loginUrl', 'clientId', 'clientSecret'] as const) if (!s[key]) report([key], "is required when mode is 'api'");
    }
    if (s.mode === 'web-to-lead' && s.externalIdField) report(['externalIdField'], "only applies to mode 'api' (Web-to-Lead cannot upsert)");
  },
  outboundUrls: (s) => (s.mode === 'web-to-lead' ? [{ path: ['url'], url: s.url }] : s.loginUrl ? [{ path: ['loginUrl'], url: s.loginUrl }] : []),
  defaults: { concurrency: 4 },
  create: async (settings, ctx) => (await import('./salesforce-client.js')).createSalesforceClient(settings, ctx),
});
