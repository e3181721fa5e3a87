import { DURATION_HELP, DURATION_PATTERN } from '@leadrelay/core';
import { ENV_REFERENCE_REF } from './json-schema.js';

/**
 * The reference tables of docs/configuration.md, written from the generated JSON Schema (descriptions and defaults),
 * so the page cannot say anything the schema does not.
 */

type JsonSchema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  const?: unknown;
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  $ref?: string;
};

interface Row {
  key: string;
  schema: JsonSchema;
  required: boolean;
  /** Set when the key exists only in some variants of a union, e.g. `auth.username` only with `mode: password`. */
  onlyWith?: string;
}

/** An optional key without a schema default says what its absence means in a sentence starting so. */
const DEFAULT_SENTENCE = /(?:^|\s)Default: (.+?\.)(?=\s|$)/;

/** The schema of a value, without the `${VAR}` alternative json-schema.ts adds to typed and constrained leaves. */
function withoutEnvReference(s: JsonSchema): JsonSchema {
  if (!s.anyOf?.some((alt) => alt.$ref === ENV_REFERENCE_REF)) return s;
  const { anyOf, ...annotations } = s;
  const values = anyOf.filter((alt) => alt.$ref !== ENV_REFERENCE_REF);
  return values.length === 1 ? { ...annotations, ...values[0] } : { ...annotations, anyOf: values };
}

/** The variants of a union of objects (a discriminated union such as dynamics `auth`), else undefined. */
function objectVariants(s: JsonSchema): JsonSchema[] | undefined {
  const alternatives = s.oneOf ?? s.anyOf;
  return alternatives?.length && alternatives.every((alt) => alt.type === 'object' && alt.properties) ? alternatives : undefined;
}

/** The key whose `const` tells the variants apart (`type`, `mode`). */
function discriminatorOf(variants: JsonSchema[]): string | undefined {
  return Object.keys(variants[0]!.properties!).find((key) => variants.every((v) => v.properties?.[key] && 'const' in withoutEnvReference(v.properties[key])));
}

const code = (text: string) => `\`${text}\``;

/** A default as a person writes it in YAML: `10s`, `[email, offer]`, `{}`. */
function yamlText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(yamlText).join(', ')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${k}: ${yamlText(v)}`).join(', ')}}`;
  }
  return String(value);
}

/** ` 1–500`, ` ≥ 1`; zod's implicit safe-integer bounds of `.int()` are left out. */
function numberRange(s: JsonSchema): string {
  const bound = (n: number | undefined) => (n === undefined || Math.abs(n) >= Number.MAX_SAFE_INTEGER ? undefined : n);
  const exclusiveLow = s.exclusiveMinimum !== undefined && s.type === 'integer' ? s.exclusiveMinimum + 1 : undefined;
  if (s.exclusiveMinimum !== undefined && s.type !== 'integer') return ` > ${s.exclusiveMinimum}`;
  const low = bound(s.minimum ?? exclusiveLow);
  const high = bound(s.maximum);
  if (low !== undefined && high !== undefined) return ` ${low}–${high}`;
  if (low !== undefined) return ` ≥ ${low}`;
  if (high !== undefined) return ` ≤ ${high}`;
  return '';
}

function typeText(schema: JsonSchema): string {
  const s = withoutEnvReference(schema);
  if ('const' in s) return code(String(s.const));
  if (s.enum) return s.enum.map((v) => code(String(v))).join(' | ');
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) return objectVariants(s) ? 'object' : [...new Set(alternatives.map(typeText))].join(' | ');
  if (Array.isArray(s.type)) return s.type.join(' | ');
  switch (s.type) {
    case 'array': {
      const item = s.items ? typeText(s.items) : 'any';
      return `list of ${item.includes(' | ') ? `(${item})` : item}`;
    }
    case 'object':
      return !s.properties && typeof s.additionalProperties === 'object' ? `map of ${typeText(s.additionalProperties)}` : 'object';
    case 'string':
      return s.pattern === DURATION_PATTERN.source ? 'duration' : 'string';
    case 'integer':
    case 'number':
      return `${s.type}${numberRange(s)}`;
    default:
      return s.type ?? 'any';
  }
}

/** Default column and the description left for the last column. */
function defaultAndDescription(row: Row): { defaultText: string; description: string } {
  const s = withoutEnvReference(row.schema);
  let description = (s.description ?? '').replace(DURATION_HELP, '').trim();
  let defaultText: string;
  if ('default' in s) {
    const isObjectOfKeys = s.type === 'object' && s.properties && yamlText(s.default) === '{}';
    defaultText = isObjectOfKeys ? "its keys' defaults" : code(yamlText(s.default));
  } else if (row.required) {
    defaultText = 'required';
  } else {
    const sentence = DEFAULT_SENTENCE.exec(description);
    defaultText = sentence ? sentence[1]!.replace(/\.$/, '') : '—';
    if (sentence) description = description.replace(sentence[0], '').trim();
  }
  if (row.onlyWith) description = `Only with ${row.onlyWith}. ${description}`;
  return { defaultText, description };
}

/** Markdown table text: `|` escaped (also inside code spans, as GFM tables need), `<…>` shown rather than taken as HTML. */
function cell(text: string): string {
  return text
    .split(/(`[^`]*`)/)
    .map((part) => (part.startsWith('`') ? part : part.replace(/</g, '&lt;').replace(/>/g, '&gt;')))
    .join('')
    .replace(/\|/g, '\\|')
    .replace(/\s*\n\s*/g, ' ');
}

function table(rows: Row[]): string {
  const lines = ['| Key | Type | Default | Description |', '|---|---|---|---|'];
  for (const row of rows) {
    const { defaultText, description } = defaultAndDescription(row);
    lines.push(`| ${cell(code(row.key))} | ${cell(typeText(row.schema))} | ${cell(defaultText)} | ${cell(description)} |`);
  }
  return lines.join('\n') + '\n';
}

/** One row per key of an object, then rows for the keys of its nested objects (`network.proxy.url`). */
function rowsOf(object: JsonSchema, prefix: string, keys = Object.keys(object.properties ?? {})): Row[] {
  const rows: Row[] = [];
  for (const key of keys) {
    const schema = object.properties![key]!;
    const row: Row = { key: `${prefix}${key}`, schema, required: object.required?.includes(key) ?? false };
    rows.push(row, ...nestedRows(row));
  }
  return rows;
}

function nestedRows(row: Row): Row[] {
  const s = withoutEnvReference(row.schema);
  if (s.type === 'object' && s.properties) return rowsOf(s, `${row.key}.`);
  const variants = objectVariants(s);
  return variants ? unionRows(variants, `${row.key}.`) : [];
}

/** The keys of a discriminated union of objects as one list; keys only some variants have say which. */
function unionRows(variants: JsonSchema[], prefix: string): Row[] {
  const discriminator = discriminatorOf(variants);
  const keys = [...new Set(variants.flatMap((v) => Object.keys(v.properties!)))];
  return keys.flatMap((key) => {
    const having = variants.filter((v) => v.properties![key]);
    const first = having[0]!.properties![key]!;
    const required = having.every((v) => v.required?.includes(key));
    if (key === discriminator) {
      const values = variants.map((v) => withoutEnvReference(v.properties![key]!).const);
      return [{ key: `${prefix}${key}`, schema: { description: first.description, enum: values }, required }];
    }
    const onlyWith = having.length < variants.length && discriminator
      ? having.map((v) => code(`${discriminator}: ${String(withoutEnvReference(v.properties![discriminator]!).const)}`)).join(' or ')
      : undefined;
    const row: Row = { key: `${prefix}${key}`, schema: first, required, ...(onlyWith ? { onlyWith } : {}) };
    return [row, ...nestedRows(row)];
  });
}

/**
 * For an array of typed entries (`destinations`, `sources`): a table of the keys every type shares
 * (the discriminator first) and one per type of its own keys, named `<entry>` and `<entry>-<type>`.
 */
function entryTables(array: JsonSchema, entry: string, tables: Map<string, string>): void {
  const variants = objectVariants(withoutEnvReference(array.items ?? {}));
  if (!variants) throw new Error(`the JSON Schema of ${entry} entries is not a union of objects`);
  const discriminator = discriminatorOf(variants);
  if (!discriminator) throw new Error(`the ${entry} types have no common const key`);
  const first = variants[0]!;
  const shared = Object.keys(first.properties!).filter((key) => key !== discriminator
    && variants.every((v) => JSON.stringify(v.properties![key]) === JSON.stringify(first.properties![key])));
  const discriminatorRow = unionRows(variants, '').find((row) => row.key === discriminator)!;
  const [firstShared, ...otherShared] = shared;
  tables.set(entry, table([...rowsOf(first, '', firstShared ? [firstShared] : []), discriminatorRow, ...rowsOf(first, '', otherShared)]));
  for (const variant of variants) {
    const type = String(withoutEnvReference(variant.properties![discriminator]!).const);
    const own = Object.keys(variant.properties!).filter((key) => key !== discriminator && !shared.includes(key));
    const intro = variant.description ? `${cell(variant.description)}\n\n` : '';
    tables.set(`${entry}-${type}`, intro + table(rowsOf(variant, '', own)));
  }
}

/**
 * Every reference table, by block name: `top-level` (the sections), one per object section (`redis`, `intake`, …),
 * `destination` and `destination-<type>`, `source` and `source-<type>`.
 */
export function configReferenceTables(jsonSchema: Record<string, unknown>): Map<string, string> {
  const schema = jsonSchema as JsonSchema;
  const tables = new Map<string, string>();
  const topLevel = Object.keys(schema.properties ?? {});
  tables.set('top-level', table(topLevel.map((key) => ({ key, schema: schema.properties![key]!, required: schema.required?.includes(key) ?? false }))));
  for (const key of topLevel) {
    const section = withoutEnvReference(schema.properties![key]!);
    if (section.type === 'object' && section.properties) tables.set(key, table(rowsOf(section, `${key}.`)));
  }
  entryTables(withoutEnvReference(schema.properties!.destinations!), 'destination', tables);
  entryTables(withoutEnvReference(schema.properties!.sources!), 'source', tables);
  return tables;
}

const BLOCK = /<!-- generated:([A-Za-z0-9-]+):start -->\n[\s\S]*?<!-- generated:\1:end -->/g;

/**
 * The page with the text between each `<!-- generated:NAME:start -->` and `<!-- generated:NAME:end -->` replaced by
 * table NAME; everything outside the markers is kept as written. Every table must have a place, so a new section or
 * type cannot go undocumented.
 */
export function withGeneratedTables(page: string, tables: Map<string, string>, pageName = 'docs/configuration.md'): string {
  const placed = new Set<string>();
  const text = page.replace(BLOCK, (_, name: string) => {
    const generated = tables.get(name);
    if (generated === undefined) throw new Error(`${pageName} has a generated block '${name}' that no part of the schema produces: remove it`);
    placed.add(name);
    return `<!-- generated:${name}:start -->\n${generated}<!-- generated:${name}:end -->`;
  });
  const missing = [...tables.keys()].filter((name) => !placed.has(name));
  if (missing.length) {
    throw new Error(`${pageName} has no place for ${missing.map((name) => `'${name}'`).join(', ')}: add <!-- generated:NAME:start --> and <!-- generated:NAME:end --> lines where each table belongs`);
  }
  return text;
}
