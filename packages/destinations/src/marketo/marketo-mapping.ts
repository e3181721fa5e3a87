import { domainToASCII } from 'node:url';
import { InvalidConfigurationError, PayloadValidationError, formatLeadSource, renderFields, type FieldValue, type Lead } from '@leadrelay/core';
import { fitToLengths } from '../shared/index.js';
import type { MarketoFormFields, MarketoLeadDescribe } from './marketo-lead-describe.js';

/** One Marketo lead record: REST API field names to values. */
export type MarketoRecord = Record<string, FieldValue>;

/** Default mapping (README: Destinations → Marketo): customer fields keep their names in Marketo, plus `leadSource` = `Source-Action|Offer`. */
export function defaultMarketoRecord(lead: Lead): MarketoRecord {
  const c = lead.customer;
  const record: Record<string, FieldValue | undefined> = {
    firstName: c.firstName,
    lastName: c.lastName,
    email: c.email,
    phone: c.phone,
    country: c.country,
    company: c.company,
    title: c.title,
    leadSource: formatLeadSource(lead),
  };
  return withoutBlanks(record);
}

/**
 * Blank values are left out rather than sent: on an upsert an empty string would wipe what Marketo
 * already knows about the person (a later lead from the same customer often has fewer fields).
 */
function withoutBlanks(record: Record<string, FieldValue | undefined>): MarketoRecord {
  const out: MarketoRecord = {};
  for (const [k, v] of Object.entries(record)) {
    if (v === undefined) continue;
    if (typeof v === 'string' && v.trim() === '') continue;
    out[k] = typeof v === 'string' ? v.trim() : v;
  }
  return out;
}

/** The default mapping with the destination's rendered `fields:` added or overriding. */
export function mapLeadToMarketo(lead: Lead, fields: Record<string, FieldValue> | undefined): MarketoRecord {
  const base: Record<string, FieldValue | undefined> = { ...defaultMarketoRecord(lead), ...renderFields(fields, lead) };
  return withoutBlanks(base);
}

/**
 * Marketo accepts only ASCII in email addresses (Adobe `leads.md`). Decision: an internationalised
 * *domain* is the same mailbox in its ASCII (punycode) form, so it is converted; a non-ASCII *local part*
 * has no ASCII equivalent, so the lead is rejected here with a remediation and never sent.
 */
export function toAsciiEmail(email: string): { ok: true; email: string } | { ok: false; reason: string } {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7F]*$/.test(email)) return { ok: true, email };
  const at = email.lastIndexOf('@');
  if (at <= 0) return { ok: false, reason: 'it is not an email address and contains non-ASCII characters' };
  const local = email.slice(0, at);
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7F]*$/.test(local)) return { ok: false, reason: 'its local part (before @) contains non-ASCII characters' };
  const domain = domainToASCII(email.slice(at + 1));
  if (domain === '') return { ok: false, reason: 'its domain is not a valid internationalised domain name' };
  return { ok: true, email: `${local}@${domain}` };
}

export interface PreparedRecord {
  ok: true;
  record: MarketoRecord;
}

export interface RejectedRecord {
  ok: false;
  /** Permanent for this lead; a configuration error when no lead could be sent as the destination is set up. */
  error: PayloadValidationError | InvalidConfigurationError;
}

/**
 * Builds the record and checks what Marketo would otherwise skip or mis-file: the key it finds the
 * person by (`lookupField`; always `email` for form submissions) must be present, and email ASCII.
 */
export function prepareMarketoRecord(lead: Lead, opts: { fields?: Record<string, FieldValue>; keyField: string; destinationId: string }): PreparedRecord | RejectedRecord {
  const record = mapLeadToMarketo(lead, opts.fields);
  const replay = `then \`leadrelay dlq replay --destination ${opts.destinationId} --id ${lead.id}\``;
  if (typeof record.email === 'string') {
    const ascii = toAsciiEmail(record.email);
    if (!ascii.ok) {
      return {
        ok: false,
        error: new PayloadValidationError(`Not sent to Marketo: the email address is not ASCII (${ascii.reason}); Marketo accepts only ASCII email addresses`, {
          remediation: `Correct the lead's email address at its source, or map an ASCII address to email with \`fields:\`, ${replay}.`,
        }),
      };
    }
    record.email = ascii.email;
  }
  const key = record[opts.keyField];
  if (key === undefined || (typeof key === 'string' && key === '')) {
    return {
      ok: false,
      error: new PayloadValidationError(`Not sent to Marketo: the lead has no '${opts.keyField}', the field Marketo finds the person by`, {
        remediation: `Marketo upserts by '${opts.keyField}' and this lead has none (Microsoft strips personal data from some leads, e.g. .edu addresses). `
          + `Map a value to '${opts.keyField}' with \`fields:\` or choose another lookupField, ${replay}; or purge it if it cannot be identified.`,
      }),
    };
  }
  return { ok: true, record };
}

/** A prepared record made to fit the instance: what is sent, and what was changed on the way. */
export interface FittedRecord {
  ok: true;
  record: MarketoRecord;
  warnings: string[];
}

/**
 * Makes a prepared record fit what the instance takes. For a form, fields not on it are left out
 * (Submit Form skips the whole record with 1006 for one such field); strings longer than their field's
 * length are cut (Marketo's own behaviour is undocumented; a cut value and a warning beat a lost lead),
 * except the lookup key: a cut email would file the lead under another person, so it is refused.
 * Warnings name fields and lengths only, never values.
 */
export function fitMarketoRecord(
  record: MarketoRecord,
  opts: { describe: MarketoLeadDescribe; form?: MarketoFormFields & { formId: number }; keyField: string; destinationId: string; leadId: string },
): FittedRecord | RejectedRecord {
  const warnings: string[] = [];
  let out: MarketoRecord = record;
  if (opts.form) {
    const form = opts.form;
    if (!form.fields.has(opts.keyField)) {
      return {
        ok: false,
        error: new InvalidConfigurationError(`Marketo form ${form.formId} has no ${opts.keyField} field: Submit Form needs it to find the person, so no lead can be submitted`, {
          destinationCode: '1006',
          remediation: `Add the Email field to form ${form.formId} in Marketo Design Studio (and approve the form), then \`leadrelay resume ${opts.destinationId}\`.`,
        }),
      };
    }
    out = {};
    const dropped: string[] = [];
    for (const [k, v] of Object.entries(record)) {
      if (form.fields.has(k)) out[k] = v;
      else dropped.push(k);
    }
    if (dropped.length > 0) warnings.push(`Marketo form ${form.formId} has no field ${dropped.join(', ')}: not sent (add it to the form to keep it)`);
  }
  const lengths = opts.form?.lengths ?? opts.describe.lengths;
  const key = out[opts.keyField];
  const keyMax = lengths[opts.keyField];
  if (typeof key === 'string' && keyMax !== undefined && key.length > keyMax) {
    return {
      ok: false,
      error: new PayloadValidationError(`Not sent to Marketo: the lead's ${opts.keyField} is ${key.length} characters and Marketo's ${opts.keyField} field holds ${keyMax}; `
        + `it identifies the person, so it is not truncated`, {
        remediation: `Correct the lead's ${opts.keyField} at its source (an email address has at most 254 characters), `
          + `then \`leadrelay dlq replay --destination ${opts.destinationId} --id ${opts.leadId}\`; or purge it.`,
      }),
    };
  }
  const fitted = fitToLengths(out, { ...lengths, [opts.keyField]: undefined }, 'Marketo lead');
  return { ok: true, record: fitted.record, warnings: [...warnings, ...fitted.warnings] };
}
