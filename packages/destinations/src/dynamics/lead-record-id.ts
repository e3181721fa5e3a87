import { createHash } from 'node:crypto';

/** SPEC §5: the namespace of the UUID v5 that turns a lead id into its Dynamics `leadid`. */
export const LEAD_ID_NAMESPACE = '1636639b-6fec-4204-9b36-f35db1bee11e';

/**
 * RFC 9562 (4122) UUID version 5: SHA-1 of namespace bytes + UTF-8 name, with version and variant bits set.
 * Written out here because `uuid` is a dependency of @leadrelay/core only and does not resolve from this
 * package; the tests pin it to values produced by the `uuid` package.
 */
export function uuidV5(name: string, namespace: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  if (ns.length !== 16) throw new Error(`not a UUID: ${namespace}`);
  const bytes = createHash('sha1').update(ns).update(Buffer.from(name, 'utf8')).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The Dataverse record id for a lead: the same lead always upserts the same record (SPEC §4). */
export function leadRecordId(leadId: string): string {
  return uuidV5(leadId, LEAD_ID_NAMESPACE);
}
