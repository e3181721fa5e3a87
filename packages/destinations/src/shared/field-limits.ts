import type { FieldValue } from '@leadrelay/core';

/** Cuts to `max` UTF-16 units without splitting a surrogate pair. */
export function truncate(value: string, max: number): string {
  if (value.length <= max) return value;
  let out = '';
  for (const ch of value) {
    if (out.length + ch.length > max) break;
    out += ch;
  }
  return out;
}

/** Options of `fitToLengths`. */
export interface FitOptions {
  /**
   * Fields whose over-long value is left out rather than cut: an email address cut to fit is another address
   * (a wrong one, or someone else's), so the lead is better delivered without it, with a warning.
   */
  leaveOut?: readonly string[];
}

/**
 * Cuts every string value longer than its field's length (`lengths[field]`; fields without a length are
 * left alone) and says what was cut. CRMs reject the whole record for one over-long value, so a lead is
 * better delivered with a shortened value and a warning on its timeline. A `leaveOut` field (an email)
 * that is too long is dropped instead of cut. Warnings name the field and the lengths only: timelines are
 * not the place for customer data.
 */
export function fitToLengths<T extends Record<string, FieldValue>>(record: T, lengths: Readonly<Record<string, number | undefined>>, what: string, options: FitOptions = {}): { record: T; warnings: string[] } {
  const out: Record<string, FieldValue> = {};
  const warnings: string[] = [];
  for (const [field, value] of Object.entries(record)) {
    const max = lengths[field];
    if (typeof value === 'string' && max !== undefined && max > 0 && value.length > max) {
      if (options.leaveOut?.includes(field)) {
        warnings.push(`${what} field ${field} holds ${max} characters: the value (${value.length} characters) was left out, not truncated (a cut address is a wrong address)`);
        continue;
      }
      out[field] = truncate(value, max);
      warnings.push(`${what} field ${field} holds ${max} characters: the value (${value.length} characters) was truncated`);
    } else {
      out[field] = value;
    }
  }
  return { record: out as T, warnings };
}
