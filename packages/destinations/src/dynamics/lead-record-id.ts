import { v5 as uuidV5 } from 'uuid';

/** The namespace of the UUID v5 that turns a lead id into its Dynamics `leadid` (README: Destinations → Dynamics 365). */
export const LEAD_ID_NAMESPACE = '1636639b-6fec-4204-9b36-f35db1bee11e';

/** The Dataverse record id for a lead: the same lead always upserts the same record, so a retry is harmless (README: How delivery behaves). */
export function leadRecordId(leadId: string): string {
  return uuidV5(leadId, LEAD_ID_NAMESPACE);
}
