import { v5 as uuidV5 } from 'uuid';

/** SPEC §5: the namespace of the UUID v5 that turns a lead id into its Dynamics `leadid`. */
export const LEAD_ID_NAMESPACE = '1636639b-6fec-4204-9b36-f35db1bee11e';

/** The Dataverse record id for a lead: the same lead always upserts the same record (SPEC §4). */
export function leadRecordId(leadId: string): string {
  return uuidV5(leadId, LEAD_ID_NAMESPACE);
}
