import type { CommonDestinationSettings, DestinationClient, DestinationContext } from '../destination.js';
import { SalesforceRestClient } from './salesforce-rest-client.js';
import type { SalesforceSettings } from './settings.js';
import { SalesforceWebToLeadClient } from './salesforce-web-to-lead-client.js';

/** `mode: web-to-lead` posts the form Microsoft's connector posts; `mode: api` creates the Lead through REST with jsforce. */
export function createSalesforceClient(settings: SalesforceSettings & CommonDestinationSettings, ctx: DestinationContext): DestinationClient {
  return settings.mode === 'api' ? new SalesforceRestClient(settings, ctx) : new SalesforceWebToLeadClient(settings, ctx);
}
