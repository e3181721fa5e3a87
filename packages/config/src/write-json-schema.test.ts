import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configReferenceTables, withGeneratedTables } from './config-reference.js';
import { generatedFiles, REPOSITORY_ROOT } from './generated-files.js';
import { configJsonSchema } from './json-schema.js';

type Node = Record<string, unknown>;

/** Every property of every object in the schema (in unions, array items and nested objects), with its path. */
function everyProperty(node: unknown, path = ''): { path: string; schema: Node; required: boolean }[] {
  if (Array.isArray(node)) return node.flatMap((item) => everyProperty(item, path));
  if (!node || typeof node !== 'object') return [];
  const s = node as Node;
  const found: { path: string; schema: Node; required: boolean }[] = [];
  const required = new Set((s.required as string[] | undefined) ?? []);
  for (const [key, child] of Object.entries((s.properties as Record<string, Node> | undefined) ?? {})) {
    const childPath = path ? `${path}.${key}` : key;
    found.push({ path: childPath, schema: child, required: required.has(key) }, ...everyProperty(child, childPath));
  }
  for (const key of ['items', 'anyOf', 'oneOf', 'additionalProperties']) {
    if (key in s) found.push(...everyProperty(s[key], key === 'items' ? `${path}[]` : path));
  }
  return found;
}

const configProperties = () => everyProperty(configJsonSchema());

describe('npm run schema', () => {
  it.each(generatedFiles().map((file) => [file.path, file.text] as const))('%s is committed exactly as generated', (path, generated) => {
    const committed = readFileSync(join(REPOSITORY_ROOT, path), 'utf8');
    expect(committed === generated, `${path} is out of date with the zod schema (packages/config/src/schema.ts, source-schema.ts, packages/destinations/src/*/settings.ts): run \`npm run schema\` and commit it`).toBe(true);
  });

  it('finds every setting', () => {
    const paths = configProperties().map((p) => p.path);
    // One key from each part, so a walk that misses a part (unions, array items, nested objects) fails here.
    expect(paths).toEqual(expect.arrayContaining(['redis.url', 'network.proxy.noProxy', 'destinations[].auth.username', 'destinations[].rateLimit.per', 'sources[].filter.directions']));
  });

  it('every setting has a description', () => {
    const undescribed = configProperties().filter((p) => typeof p.schema.description !== 'string' || p.schema.description.trim() === '').map((p) => p.path);
    expect(undescribed, 'add a .describe() to these settings').toEqual([]);
  });

  it('every optional setting without a default says what its absence means ("Default: …." in its description)', () => {
    const silent = configProperties()
      .filter((p) => !p.required && !('default' in p.schema) && !/(^|\s)Default: .+?\.(\s|$)/.test(String(p.schema.description)))
      .map((p) => p.path);
    expect(silent).toEqual([]);
  });
});

describe('the reference tables of docs/configuration.md', () => {
  const tables = configReferenceTables(configJsonSchema());

  it('take types, defaults and descriptions from the JSON Schema', () => {
    expect(tables.get('retry')).toContain("| `retry.initialDelay` | duration | `10s` | Delay before the first retry; each later delay doubles, with jitter. |");
    // An optional key without a default: its "Default: …" sentence becomes the Default column.
    expect(tables.get('redis')).toContain('| `redis.cluster` | list of string | none, a single Redis at `url` | Redis Cluster seed nodes');
    // A key only some variants of a union have says which.
    expect(tables.get('destination-dynamics')).toContain('| `auth.username` | string | required | Only with `mode: password`. ');
    expect(tables.get('destination-marketo')).toMatch(/^Marketo\. Defaults: concurrency 5, at most 80 calls per 20s\./);
    expect(tables.get('destination')).toContain('| `type` | `https` \\| `azure-table` \\| `dynamics` \\| `marketo` \\| `salesforce` | required |');
  });

  it('replace only the text between the markers', () => {
    const page = 'Intro.\n<!-- generated:a:start -->\nold\n<!-- generated:a:end -->\nOutro.\n';
    expect(withGeneratedTables(page, new Map([['a', 'new\n']]))).toBe('Intro.\n<!-- generated:a:start -->\nnew\n<!-- generated:a:end -->\nOutro.\n');
  });

  it('need a place for every table, and no block without a table', () => {
    expect(() => withGeneratedTables('no markers\n', new Map([['destination-hubspot', 'x\n']]), 'page.md'))
      .toThrow("page.md has no place for 'destination-hubspot'");
    expect(() => withGeneratedTables('<!-- generated:gone:start -->\n<!-- generated:gone:end -->\n', new Map(), 'page.md'))
      .toThrow("page.md has a generated block 'gone' that no part of the schema produces");
  });
});
