import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { parseDocument, visit } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { configJsonSchema, configJsonSchemaText, titleOf } from './json-schema.js';
import { interpolateEnv } from './interpolate.js';
import { parseConfig } from './load-config.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string) => readFileSync(path, 'utf8');
const specExample = read(fileURLToPath(new URL('../test/fixtures/spec-example.yaml', import.meta.url)));
/** The product specification's configuration example (fixtures/spec-example.yaml): its `crm` destination names no instance or credentials; these make it complete. */
const completedSpecExample = specExample.replace(/^( {4}type: dynamics.*\n)/m,
  '$1    instanceUrl: https://contoso.crm.dynamics.com\n    auth: { mode: client-secret, tenantId: contoso.onmicrosoft.com, clientId: 00000000-0000-0000-0000-000000000001, clientSecret: s3cret }\n');

/** The file as an editor's YAML language server sees it: references are still `${...}` strings. */
function asWritten(source: string): unknown {
  const interpolated = interpolateEnv(source, {});
  const doc = parseDocument(interpolated.text);
  expect(doc.errors).toEqual([]);
  visit(doc, { Scalar: (_, node) => { if (typeof node.value === 'string') node.value = interpolated.raw(node.value); } });
  return doc.toJS();
}

/** The file with variables replaced, as the validator sees it (durations still strings). */
function asLoaded(source: string, env: Record<string, string>): unknown {
  const interpolated = interpolateEnv(source, env);
  const doc = parseDocument(interpolated.text);
  visit(doc, { Scalar: (_, node) => { if (typeof node.value === 'string') node.value = interpolated.expand(node.value); } });
  return doc.toJS();
}

/** What the example's `${VAR}` references are set to in these tests. */
const EXAMPLE_ENV = {
  INTAKE_API_KEY: 'k-0123456789abcdef', OPS_PASSWORD: 'correct horse',
  LEADRELAY_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'), PC_TENANT_ID: 'contoso.onmicrosoft.com',
  PC_CLIENT_ID: '00000000-0000-0000-0000-000000000002', MS_TABLE_CONNECTION: 'UseDevelopmentStorage=true',
};

let validate: ValidateFunction;
beforeAll(() => {
  // strict: any keyword ajv does not know, or a malformed schema, fails here.
  validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(configJsonSchema());
});

const errorsOf = (data: unknown) => (validate(data) ? [] : validate.errors!.map((e) => `${e.instancePath} ${e.message}`));

describe('leadrelay.schema.json', () => {
  it('is checked in exactly as generated', () => {
    const checkedIn = existsSync(`${root}leadrelay.schema.json`) ? read(`${root}leadrelay.schema.json`) : '';
    expect(checkedIn === configJsonSchemaText(), 'leadrelay.schema.json is out of date with packages/config/src/schema.ts: run `npm run schema` and commit it').toBe(true);
  });

  it('describes durations as pattern strings with their defaults written as durations', () => {
    const s = configJsonSchema() as { properties: { retry: { properties: Record<string, { default?: unknown; description?: string; anyOf: { pattern?: string }[] }> } } };
    const initialDelay = s.properties.retry.properties.initialDelay!;
    expect(initialDelay.default).toBe('10s');
    expect(initialDelay.description).toMatch(/Duration: 500ms, 10s/);
    expect(new RegExp(initialDelay.anyOf[0]!.pattern!).test('1.5h')).toBe(true);
    expect(new RegExp(initialDelay.anyOf[0]!.pattern!).test('10 seconds')).toBe(false);
  });

  it('gives every setting a title and a description, so editors show what each key means', () => {
    const missing: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (!node || typeof node !== 'object') return;
      if (Array.isArray(node)) { node.forEach((n, i) => walk(n, `${path}[${i}]`)); return; }
      const s = node as Record<string, unknown>;
      for (const [name, sub] of Object.entries((s.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        // `type:` of a destination is its discriminator; its type's own title and description say what it is.
        if (name !== 'type' && (!sub.title || !sub.description)) missing.push(`${path}.${name}`);
      }
      for (const [k, v] of Object.entries(s)) if (k !== 'properties') walk(v, `${path}/${k}`);
      for (const [name, sub] of Object.entries((s.properties ?? {}) as Record<string, unknown>)) walk(sub, `${path}.${name}`);
    };
    walk(configJsonSchema(), '');
    expect(missing).toEqual([]);
    expect(titleOf('maxThrottleWait')).toBe('Max throttle wait');
    expect(titleOf('restUrl')).toBe('Rest URL');
  });

  it('lists the destination types and their enums', () => {
    const text = configJsonSchemaText();
    for (const type of ['https', 'azure-table', 'dynamics', 'marketo', 'salesforce']) expect(text).toContain(`"const": "${type}"`);
    expect(text).toMatch(/"enum": \[\s*"sync",\s*"push",\s*"form"\s*\]/);
  });
});

describe('JSON Schema validation', () => {
  it('accepts the example config (test/fixtures/spec-example.yaml) as written (with ${...} references) once its dynamics destination is complete', () => {
    expect(errorsOf(asWritten(completedSpecExample))).toEqual([]);
    expect(errorsOf(asLoaded(completedSpecExample, EXAMPLE_ENV))).toEqual([]);
  });

  it('accepts leadrelay.yaml as written and as loaded', () => {
    const source = read(`${root}leadrelay.yaml`);
    expect(errorsOf(asWritten(source))).toEqual([]);
    expect(errorsOf(asLoaded(source, {}))).toEqual([]);
  });

  it('rejects what the validator rejects: unknown keys, bad durations, unknown types, missing keys, wrong types', () => {
    const base = { intake: { apiKeys: ['k-0123456789abcdef'] }, destinations: [{ id: 'hook', type: 'https', url: 'https://x.example.com' }] };
    expect(errorsOf(base)).toEqual([]);
    expect(errorsOf({ ...base, bogus: 1 })).toContain(' must NOT have additional properties');
    expect(errorsOf({ ...base, retry: { maxDelay: '2 hours' } }).join('\n')).toMatch(/\/retry\/maxDelay must match pattern/);
    expect(errorsOf({ ...base, destinations: [{ id: 'x', type: 'hubspot' }] })).not.toEqual([]);
    expect(errorsOf({ ...base, intake: {} })).toContain("/intake must have required property 'apiKeys'");
    expect(errorsOf({ ...base, intake: { ...base.intake, port: 'eighty' } }).join('\n')).toMatch(/\/intake\/port must be integer/);
    expect(errorsOf({ ...base, destinations: [{ ...base.destinations[0], id: 'Bad_Id' }] })).not.toEqual([]);
    // A reference is accepted where a typed value goes: it is replaced before validation.
    expect(errorsOf({ ...base, intake: { ...base.intake, port: '${INTAKE_PORT:-8080}' } })).toEqual([]);
  });

  it('agrees with the validator on the specification\'s example: only the dynamics keys it leaves out are missing', () => {
    const env = EXAMPLE_ENV;
    expect(() => parseConfig(specExample, 'spec.yaml', { env })).toThrow(
      "spec.yaml:41:5 destinations[0].instanceUrl: 'instanceUrl' is required\nspec.yaml:41:5 destinations[0].auth: 'auth' is required");
    const c = parseConfig(completedSpecExample, 'spec.yaml', { env });
    expect(c.sources).toMatchObject([
      { id: 'partner-center', type: 'referrals', pollEvery: 300_000, start: 'now', apiUrl: 'https://api.partner.microsoft.com', writeBack: { destination: 'crm' }, filter: { directions: ['Incoming'] } },
      { id: 'old-table', type: 'azure-table', pollEvery: 60_000, start: 'all', table: 'MarketplaceLeads', connectionString: 'UseDevelopmentStorage=true' },
    ]);
    expect(c.secrets.key).toBe(EXAMPLE_ENV.LEADRELAY_SECRET_KEY);
    expect(c.retry.attempts).toBeGreaterThan(0);
    expect(c.destinations[0]).toMatchObject({ id: 'crm', concurrency: 4, rateLimit: { max: 100, per: 20_000 }, retry: { attempts: 20, initialDelay: 10_000 } });
    expect(c.destinations[0]!.match).toEqual({ actions: ['INS', 'PLT', 'Create', 'StartTestDrive'], sources: ['AzureMarketplace', 'SPZA'], offers: ['contoso.*'], testLeads: true });
  });

  const spec = `${root}../shared/SPEC.md`;
  it.skipIf(!existsSync(spec))('uses the example exactly as the configuration section of the external specification shows it, when that file is present', () => {
    const text = read(spec);
    const block = /## 2\. Configuration[\s\S]*?```yaml\n([\s\S]*?)```/.exec(text)?.[1];
    expect(block).toBe(specExample);
  });
});
