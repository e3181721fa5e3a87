import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE } from '@opentelemetry/semantic-conventions';

/**
 * Every span attribute LeadRelay sets (README: Operations → Traces): HTTP ones from the semantic conventions,
 * the rest `leadrelay.*`. Ids, counts, outcomes and codes only: never a lead's customer data (name, email,
 * company, phone, comments) nor an error message (a destination may quote the lead in it).
 */
export const TraceAttributes = {
  httpMethod: ATTR_HTTP_REQUEST_METHOD,
  httpRoute: ATTR_HTTP_ROUTE,
  httpStatus: ATTR_HTTP_RESPONSE_STATUS_CODE,
  leadId: 'leadrelay.lead.id',
  leadFormat: 'leadrelay.lead.format',
  leadDuplicate: 'leadrelay.lead.duplicate',
  leadDestinations: 'leadrelay.lead.destinations',
  rejectReason: 'leadrelay.intake.reject_reason',
  destinationId: 'leadrelay.destination.id',
  destinationType: 'leadrelay.destination.type',
  attempt: 'leadrelay.delivery.attempt',
  outcome: 'leadrelay.delivery.outcome',
  errorCode: 'leadrelay.delivery.error_code',
} as const;
