import { CUSTOMER_FIELDS, formatLeadSource, type Lead } from './lead.js';

/** A `fields:` value: a template string, or a literal string/number/boolean. */
export type FieldValue = string | number | boolean;

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const TOP_LEVEL = ['id', 'source', 'action', 'offer', 'offerTitle', 'leadSource', 'description', 'createdAt'] as const;

/** Why a template variable is not known, or undefined when it is. */
export function checkTemplateVariable(name: string): string | undefined {
  if ((TOP_LEVEL as readonly string[]).includes(name)) return undefined;
  if (name.startsWith('customer.')) {
    const field = name.slice('customer.'.length);
    return (CUSTOMER_FIELDS as readonly string[]).includes(field) ? undefined : `unknown customer field '${field}' (known: ${CUSTOMER_FIELDS.join(', ')})`;
  }
  if (name.startsWith('extra.')) return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name.slice(6)) ? undefined : `'${name}' is not a valid extra key`;
  return `unknown template variable '{{${name}}}' (known: ${TOP_LEVEL.join(', ')}, customer.<field>, extra.<key>)`;
}

/** Every problem in one template value (empty when it is fine). */
export function checkTemplate(value: FieldValue): string[] {
  if (typeof value !== 'string') return [];
  const problems: string[] = [];
  for (const m of value.matchAll(PLACEHOLDER)) {
    const p = checkTemplateVariable(m[1]!);
    if (p) problems.push(p);
  }
  if (problems.length === 0 && value.replace(PLACEHOLDER, '').includes('{{')) problems.push(`unclosed '{{' in template '${value}'`);
  return problems;
}

function variable(lead: Lead, name: string): string {
  if (name === 'leadSource') return formatLeadSource(lead);
  if (name.startsWith('customer.')) return lead.customer[name.slice(9) as keyof Lead['customer']] ?? '';
  if (name.startsWith('extra.')) {
    const v = lead.extra?.[name.slice(6)];
    return v === undefined || v === null ? '' : String(v);
  }
  const v = lead[name as keyof Lead];
  return typeof v === 'string' ? v : '';
}

/** Renders one `fields:` value for a lead; literals pass through typed. */
export function renderTemplate(value: FieldValue, lead: Lead): FieldValue {
  if (typeof value !== 'string' || !value.includes('{{')) return value;
  return value.replace(PLACEHOLDER, (_, name: string) => variable(lead, name.trim()));
}

/** Renders every `fields:` entry; the result overrides or extends a destination's default mapping. */
export function renderFields(fields: Record<string, FieldValue> | undefined, lead: Lead): Record<string, FieldValue> {
  if (!fields) return {};
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, renderTemplate(v, lead)]));
}
