import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configReferenceTables, withGeneratedTables } from './config-reference.js';
import { configJsonSchema, configJsonSchemaText } from './json-schema.js';

/** The repository root, from src/ (tests) and dist/ (`npm run schema`) alike. */
export const REPOSITORY_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const CONFIG_DOCS_PATH = 'docs/configuration.md';
export const JSON_SCHEMA_PATH = 'leadrelay.schema.json';

export interface GeneratedFile {
  /** Relative to the repository root. */
  path: string;
  text: string;
}

/**
 * What `npm run schema` writes: the JSON Schema, and the configuration page with its reference tables
 * rewritten from that schema (the prose around them is kept as it is in the file).
 */
export function generatedFiles(root = REPOSITORY_ROOT): GeneratedFile[] {
  const schema = configJsonSchema();
  const page = readFileSync(join(root, CONFIG_DOCS_PATH), 'utf8');
  return [
    { path: JSON_SCHEMA_PATH, text: configJsonSchemaText() },
    { path: CONFIG_DOCS_PATH, text: withGeneratedTables(page, configReferenceTables(schema), CONFIG_DOCS_PATH) },
  ];
}
