import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '@leadrelay/config';
import { read, ROOT } from './compose-model.js';

describe('leadrelay.yaml (the default config)', () => {
  it('loads with an empty environment, for `npx leadrelay` on a machine running the compose services', () => {
    const c = loadConfig(join(ROOT, 'leadrelay.yaml'), { env: {} });
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
    expect(c.intake.apiKeys).toEqual(['dev-key-change-me-0123456789']);
    expect(c.ops.password).toBe('dev-password-change-me');
    expect(c.destinations.map((d) => [d.id, d.type])).toEqual([['table', 'azure-table'], ['inbox', 'https']]);
    expect(c.destinations[0]).toMatchObject({ connectionString: 'UseDevelopmentStorage=true', table: 'MarketplaceLeads', allowInsecure: true });
    expect(c.destinations[1]).toMatchObject({ url: 'http://127.0.0.1:8081/leads', format: 'marketplace', allowInsecure: true });
    expect((c.destinations[1] as { signingSecret?: string }).signingSecret).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
  });

  it('takes every value that differs between machines from the environment', () => {
    const env = {
      REDIS_URL: 'rediss://cache.example.com:6380',
      INTAKE_API_KEY: 'a-production-key-0123456789',
      OPS_PASSWORD: 'a long ops password',
      AZURE_TABLE_CONNECTION_STRING: 'DefaultEndpointsProtocol=https;AccountName=contoso;AccountKey=a2V5;EndpointSuffix=core.windows.net',
      INBOX_URL: 'https://hooks.contoso.example/leads',
      INBOX_SIGNING_SECRET: 'whsec_c2VjcmV0LWZyb20taG9zdA==',
    };
    const c = loadConfig(join(ROOT, 'leadrelay.yaml'), { env });
    expect(c.redis.url).toBe(env.REDIS_URL);
    expect(c.intake.apiKeys).toEqual([env.INTAKE_API_KEY]);
    expect(c.ops.password).toBe(env.OPS_PASSWORD);
    expect(c.destinations[0]).toMatchObject({ connectionString: env.AZURE_TABLE_CONNECTION_STRING });
    expect(c.destinations[1]).toMatchObject({ url: env.INBOX_URL, signingSecret: env.INBOX_SIGNING_SECRET });
  });

  it('keeps the commented-out destination examples valid once uncommented', () => {
    const source = read('leadrelay.yaml');
    // Uncomment the examples: after the marker, YAML lines are `  # - ...` or `  #   ...`; prose is `  # Word`.
    const [head, examples] = source.split('# --- More destinations');
    const uncommented = examples!.split('\n').slice(1)
      .filter((l) => /^ {2}# (?:- | {2})/.test(l))
      .map((l) => l.replace(/^ {2}# /, '  '))
      .join('\n');
    expect(uncommented.match(/- id: /g)).toHaveLength(4);
    const env = { DYNAMICS_TENANT_ID: 't', DYNAMICS_CLIENT_ID: 'c', DYNAMICS_CLIENT_SECRET: 's', MARKETO_CLIENT_ID: 'c', MARKETO_CLIENT_SECRET: 's',
      SALESFORCE_OID: '00D000000000001', SALESFORCE_CLIENT_ID: 'c', SALESFORCE_CLIENT_SECRET: 's' };
    const c = parseConfig(`${head}\n${uncommented}\n`, 'leadrelay.yaml', { env });
    expect(c.destinations.map((d) => d.type)).toEqual(['azure-table', 'https', 'dynamics', 'marketo', 'salesforce', 'salesforce']);
  });
});
