import { createHash } from 'node:crypto';
import type { TableEntity } from '@azure/data-tables';
import { InvalidConfigurationError, PayloadValidationError, formatLeadSource, renderFields, type FieldValue, type Lead } from '@leadrelay/core';

/**
 * Azure Table service limits (Table service data model). A key is at most 1 KiB: 512 UTF-16 code units, as the service
 * stores strings. A string property is at most 64 KiB of UTF-16: 32,768 code units.
 */
export const MAX_KEY_CHARS = 512;
export const MAX_STRING_CHARS = 32_768;
/** 255 properties per entity, of which PartitionKey, RowKey and Timestamp are the service's. */
export const MAX_CUSTOM_PROPERTIES = 252;
export const MAX_PROPERTY_NAME_CHARS = 255;

/** The properties Microsoft's own Azure Table destination writes, in the order README: Destinations → Azure Table lists them. */
export const DEFAULT_PROPERTIES = ['ActionCode', 'CreatedTime', 'CustomerInfo', 'Description', 'LeadSource', 'OfferDisplayName'] as const;

/** Names `fields:` may not use: the service's own properties (the SDK's `partitionKey`/`rowKey`/`etag` too, any casing). */
const SYSTEM_PROPERTIES = ['partitionkey', 'rowkey', 'timestamp', 'etag'];

/** `/ \ # ?` and the control ranges U+0000–U+001F, U+007F–U+009F are not allowed in keys. */
const FORBIDDEN_KEY_CHARS = /[/\\#?\u0000-\u001f\u007f-\u009f]/g;

const TRUNCATION_MARK = ' …[truncated by LeadRelay]';

/** A key the service accepts: forbidden characters become `_`, and the result fits in 1 KiB. */
export function sanitiseKey(value: string): string {
  const clean = value.replace(FORBIDDEN_KEY_CHARS, '_');
  return clean.length <= MAX_KEY_CHARS ? clean : shortenWithHash(clean, value);
}

/**
 * PartitionKey = the offer, sanitised (README: Destinations → Azure Table). All leads of one offer share a partition, which is what lets
 * the engine batch them into one entity-group transaction; it is also the definition's batching key.
 */
export function partitionKeyOf(lead: Pick<Lead, 'offer'>): string {
  return sanitiseKey(lead.offer);
}

/**
 * RowKey = the lead id (README: Destinations → Azure Table). Lead ids never contain forbidden characters, so this is normally the id
 * itself; if sanitising ever had to change it, a hash of the original is appended, because two leads sharing
 * a RowKey would make the second one's 409 look like a delivery.
 */
export function rowKeyOf(lead: Pick<Lead, 'id'>): string {
  const clean = sanitiseKey(lead.id);
  return clean === lead.id ? clean : shortenWithHash(clean, lead.id, true);
}

function shortenWithHash(clean: string, original: string, always = false): string {
  const suffix = `~${createHash('sha256').update(original).digest('hex').slice(0, 16)}`;
  if (!always && clean.length <= MAX_KEY_CHARS) return clean;
  let head = clean.slice(0, MAX_KEY_CHARS - suffix.length);
  if (/[\ud800-\udbff]$/.test(head)) head = head.slice(0, -1); // never split a surrogate pair
  return head + suffix;
}

/** Why a `fields:` property name cannot be used on an entity, or undefined when it can. */
export function propertyNameProblem(name: string): string | undefined {
  if (name.length > MAX_PROPERTY_NAME_CHARS) return `must be at most ${MAX_PROPERTY_NAME_CHARS} characters`;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return 'must be a C#-style identifier (letters, digits, _; not starting with a digit; no dashes) to be an Azure Table property name';
  if (SYSTEM_PROPERTIES.includes(name.toLowerCase())) return 'is a system property of Azure Table entities (PartitionKey = offer, RowKey = lead id) and cannot be set';
  if (name.toLowerCase().startsWith('odata')) return 'must not start with "odata" (reserved by the Table service)';
  return undefined;
}

/** Every problem with a destination's `fields:` for Azure Table: bad names and too many properties. */
export function fieldsProblems(fields: Record<string, FieldValue> | undefined): { name?: string; message: string }[] {
  if (!fields) return [];
  const problems: { name?: string; message: string }[] = [];
  for (const name of Object.keys(fields)) {
    const p = propertyNameProblem(name);
    if (p) problems.push({ name, message: p });
  }
  const names = new Set<string>([...DEFAULT_PROPERTIES, ...Object.keys(fields)]);
  if (names.size > MAX_CUSTOM_PROPERTIES) {
    problems.push({ message: `an entity may have at most ${MAX_CUSTOM_PROPERTIES} properties besides PartitionKey, RowKey and Timestamp; the default mapping and fields: give ${names.size}` });
  }
  return problems;
}

export interface LeadEntityResult {
  entity: TableEntity<Record<string, unknown>>;
  /** Properties shortened to fit (Description only). */
  truncated: string[];
  /** What was shortened, for the lead's timeline (property and lengths, never the value), as every CRM destination records it. */
  warnings: string[];
}

/**
 * The entity for a lead (README: Destinations → Azure Table): every default property is a string, absent values are empty strings
 * (the shape Microsoft's destination writes, so publishers' existing readers keep working); rendered
 * `fields:` add or override properties. Throws InvalidConfigurationError for a `fields:` name the service
 * cannot take (every lead would fail) and PayloadValidationError for a value of this lead that cannot fit.
 */
export function leadEntity(lead: Lead, fields?: Record<string, FieldValue>): LeadEntityResult {
  const c = lead.customer;
  // Key order as in the CustomerInfo JSON of the entities Microsoft's destination writes.
  const customerInfo = JSON.stringify({
    FirstName: c.firstName ?? '', LastName: c.lastName ?? '', Title: c.title ?? '', Company: c.company ?? '',
    Email: c.email ?? '', Phone: c.phone ?? '', Country: c.country ?? '',
  });
  const truncated: string[] = [];
  const warnings: string[] = [];
  let description = lead.description ?? '';
  if (description.length > MAX_STRING_CHARS) {
    // A long free-text note should not cost the lead: keep as much as fits and say so.
    warnings.push(`Azure Table property Description holds ${MAX_STRING_CHARS} characters (64 KiB): the value (${description.length} characters) was truncated, ending '${TRUNCATION_MARK.trim()}'`);
    description = description.slice(0, MAX_STRING_CHARS - TRUNCATION_MARK.length).replace(/[\ud800-\udbff]$/, '') + TRUNCATION_MARK;
    truncated.push('Description');
  }
  const properties: Record<string, unknown> = {
    ActionCode: lead.action,
    CreatedTime: lead.createdAt,
    CustomerInfo: customerInfo,
    Description: description,
    LeadSource: formatLeadSource(lead),
    OfferDisplayName: lead.offerTitle ?? '',
  };
  for (const [name, value] of Object.entries(renderFields(fields, lead))) {
    const problem = propertyNameProblem(name);
    if (problem) {
      throw new InvalidConfigurationError(`Azure Table property name fields.${name} ${problem}`, {
        destinationCode: 'PropertyNameInvalid',
        remediation: `Rename fields.${name} in leadrelay.yaml (letters, digits and _, not starting with a digit; not PartitionKey, RowKey or Timestamp), then \`leadrelay resume <destination>\`.`,
      });
    }
    properties[name] = tableValue(value);
  }
  if (Object.keys(properties).length > MAX_CUSTOM_PROPERTIES) {
    throw new InvalidConfigurationError(`An Azure Table entity may have at most ${MAX_CUSTOM_PROPERTIES} properties; this destination's mapping gives ${Object.keys(properties).length}`, {
      destinationCode: 'TooManyProperties',
      remediation: 'Remove entries from this destination\'s fields:, then `leadrelay resume <destination>`.',
    });
  }
  for (const [name, value] of Object.entries(properties)) {
    if (typeof value === 'string' && value.length > MAX_STRING_CHARS) {
      throw new PayloadValidationError(`Azure Table property ${name} of this lead is ${value.length} characters; a string property holds at most ${MAX_STRING_CHARS} (64 KiB)`, {
        destinationCode: 'PropertyValueTooLarge',
        remediation: fields && name in fields
          ? `Shorten what fields.${name} renders (or drop it) for this destination, then \`leadrelay dlq replay --id ${lead.id}\`.`
          : `Override ${name} with a shorter template in this destination's fields:, then \`leadrelay dlq replay --id ${lead.id}\`.`,
      });
    }
  }
  return { entity: { partitionKey: partitionKeyOf(lead), rowKey: rowKeyOf(lead), ...properties }, truncated, warnings };
}

/** Integers in Int32 range go as they are (Edm.Int32); other numbers are typed Edm.Double so the service accepts them. */
function tableValue(value: FieldValue): unknown {
  if (typeof value === 'number' && !(Number.isInteger(value) && value >= -2_147_483_648 && value <= 2_147_483_647)) {
    return { value, type: 'Double' };
  }
  return value;
}
