import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatProblem } from './config-error.js';
import { loadConfig, parseConfig, type LeadRelayConfig } from './load-config.js';

const KEY = 'k-0123456789abcdef';

/** A valid config whose destinations are `dests` (YAML lines, indented under `destinations:`). */
function config(dests: string, head = ''): string {
  return `${head}intake:\n  apiKeys: [${KEY}]\ndestinations:\n${dests}`;
}

const HOOK = '  - id: hook\n    type: https\n    url: https://hooks.example.com/leads\n';

/** Every problem `parseConfig` reports, as `file:line:col message`, in order. */
function problems(source: string, env: Record<string, string | undefined> = {}): string[] {
  try {
    parseConfig(source, 'lr.yaml', { env });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems.map(formatProblem);
  }
  throw new Error('expected the config to be rejected');
}

const ok = (source: string, env: Record<string, string | undefined> = {}): LeadRelayConfig => parseConfig(source, 'lr.yaml', { env });

describe('webhook signing secrets', () => {
  it('a whsec_ secret whose base64 is bad is reported at its line and column (signingSecret and signingSecrets)', () => {
    const found = problems(config(`${HOOK}    signingSecret: whsec_abc\n  - id: hook2\n    type: https\n    url: https://hooks.example.com/b\n    signingSecrets: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, whsec_YWJj=]\n`));
    expect(found).toEqual([
      expect.stringMatching(/^lr\.yaml:7:20 .*signingSecret.*not valid base64/),
      expect.stringMatching(/^lr\.yaml:11:62 .*signingSecrets.*not valid base64/),
    ]);
  });
});

describe('alert targets and secrets', () => {
  it('alerts.signingSecret with bad base64, a signingSecret on a Slack target and an unknown target type are each reported at their line and column', () => {
    const head = `alerts:
  signingSecret: whsec_abc
  targets:
    - { type: slack, url: "https://hooks.slack.com/services/T/B/X", signingSecret: "whsec_YWJjZA==" }
    - { type: pagerduty, url: "https://events.example.com/x" }
    - { type: teams, url: "http://teams.example.com/x" }
`;
    expect(problems(config(HOOK, head))).toEqual([
      expect.stringMatching(/^lr\.yaml:2:18 alerts\.signingSecret: is not valid base64/),
      expect.stringMatching(/^lr\.yaml:4:\d+ alerts\.targets\[0\]\.signingSecret: signingSecret is only for type webhook/),
      expect.stringMatching(/^lr\.yaml:5:\d+ alerts\.targets\[1\]\.type: .*webhook.*slack.*teams/),
      expect.stringMatching(/^lr\.yaml:6:\d+ alerts\.targets\[2\]\.url: must be https/),
    ]);
  });

  it('targets default to none; a valid list is kept as written', () => {
    expect(ok(config(HOOK)).alerts.targets).toEqual([]);
    const c = ok(config(HOOK, 'alerts:\n  targets: [{ type: teams, url: "https://prod.westus.logic.azure.com/workflows/1/triggers/manual/paths/invoke" }]\n'));
    expect(c.alerts.targets).toEqual([{ type: 'teams', url: 'https://prod.westus.logic.azure.com/workflows/1/triggers/manual/paths/invoke' }]);
  });
});

describe('environment variables', () => {
  it('substitutes ${VAR} and ${VAR:-default}, typing unquoted values as YAML would', () => {
    const c = ok(`redis:\n  url: \${REDIS_URL:-redis://127.0.0.1:6379}\nintake:\n  port: \${PORT:-8080}\n  apiKeys: [\${KEY}]\n  host: "\${HOST:-::}"\ndestinations:\n${HOOK}    enabled: \${ON:-false}\n`,
      { REDIS_URL: 'rediss://cache.example.com:6380', KEY, PORT: '9090' });
    expect(c.redis.url).toBe('rediss://cache.example.com:6380');
    expect(c.intake.port).toBe(9090);
    expect(c.intake.apiKeys).toEqual([KEY]);
    expect(c.intake.host).toBe('::');
    expect(c.destinations[0]!.enabled).toBe(false);
  });

  it('keeps a quoted reference a string, so a quoted port is reported as the wrong type', () => {
    expect(problems(config(HOOK, 'ops:\n  port: "${PORT:-3000}"\n'))).toEqual([
      'lr.yaml:2:9 ops.port: must be a number (got the string "3000")',
    ]);
  });

  it('puts values with YAML-significant characters in verbatim', () => {
    const secret = 'p#ss, word: "x" [y] {z} \'q\' *a &b';
    const c = ok(`ops:\n  password: \${OPS_PASSWORD}\nintake:\n  apiKeys: [\${K1}, \${K2}]\ndestinations:\n${HOOK}`,
      { OPS_PASSWORD: secret, K1: `${KEY},second`, K2: `${KEY} # not a comment` });
    expect(c.ops.password).toBe(secret);
    expect(c.intake.apiKeys).toEqual([`${KEY},second`, `${KEY} # not a comment`]);
  });

  it('reads $${ as a literal ${', () => {
    const c = ok(config(`${HOOK}    headers:\n      X-Template: "$\${NOT_A_VAR}"\n`));
    expect((c.destinations[0] as { headers: Record<string, string> }).headers['X-Template']).toBe('${NOT_A_VAR}');
  });

  it('drops a key whose whole value is a variable that resolved to empty, so ${SECRET:-} leaves it unset', () => {
    const c = ok(config(`${HOOK}    signingSecret: \${SIGNING_SECRET:-}\n`));
    expect(c.destinations[0]).not.toHaveProperty('signingSecret');
    const signed = ok(config(`${HOOK}    signingSecret: \${SIGNING_SECRET:-}\n`), { SIGNING_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' });
    expect(signed.destinations[0]).toHaveProperty('signingSecret', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
  });

  it('reports an unset variable without a default by name at its line and column, and nothing derived from it', () => {
    const src = `redis:\n  url: redis://127.0.0.1:6379\nintake:\n  apiKeys: [\${INTAKE_API_KEY}]\nops:\n  password: \${OPS_PASSWORD}\ndestinations:\n${HOOK}`;
    expect(problems(src)).toEqual([
      'lr.yaml:4:13 environment variable INTAKE_API_KEY is not set (set it, or write ${INTAKE_API_KEY:-default})',
      'lr.yaml:6:13 environment variable OPS_PASSWORD is not set (set it, or write ${OPS_PASSWORD:-default})',
    ]);
  });

  it('reports two unset variables on one line at their own columns', () => {
    expect(problems(config(`  - id: hook\n    type: https\n    url: https://\${HOST}/\${PATH_PART}\n`))).toEqual([
      'lr.yaml:6:18 environment variable HOST is not set (set it, or write ${HOST:-default})',
      'lr.yaml:6:26 environment variable PATH_PART is not set (set it, or write ${PATH_PART:-default})',
    ]);
  });

  it('ignores variables in comments', () => {
    expect(() => ok(config(`${HOOK}  # - id: crm\n  #   clientSecret: \${DYNAMICS_SECRET}\n`))).not.toThrow();
  });

  it('reports a malformed reference', () => {
    expect(problems(config(HOOK, 'ops:\n  password: ${OPS_PASSWORD:default}\n'))).toEqual([
      "lr.yaml:2:13 '${OPS_PASSWORD:default}' is not a variable reference: write ${NAME} or ${NAME:-default} (NAME: letters, digits, _), or $${ for a literal ${",
    ]);
  });

  it('points at the right column after substitutions earlier on the same line and on earlier lines', () => {
    const env = { LONG: 'a-value-much-longer-than-its-reference', S: 'h' };
    // Line 1 grows by the substitution; line 2 has two substitutions before the bad value.
    const src = config(HOOK, 'redis: { url: "redis://${LONG}:6379" }\nops: { host: ${S}, username: ${LONG}, port: nope }\n');
    expect(problems(src, env)).toEqual(['lr.yaml:2:45 ops.port: must be a number (got the string "nope")']);
  });

  it('counts columns in characters, not UTF-16 units, and ignores a byte-order mark', () => {
    const src = `\uFEFFops: { username: "🦄🦄", port: -1 }\n${config(HOOK)}`;
    expect(problems(src)).toEqual(['lr.yaml:1:30 ops.port: must be at least 0']);
  });
});

describe('validation problems', () => {
  it('reports YAML syntax errors at their position', () => {
    expect(problems('intake:\n  apiKeys: [a\ndestinations: []\n')[0]).toMatch(/^lr\.yaml:3:1 /);
    expect(problems('intake:\n  apiKeys: "unclosed\n')).toEqual(['lr.yaml:2:12 this double-quoted string is never closed (missing ")']);
    expect(problems("a: 'it''s\nb: 1\n")).toEqual(["lr.yaml:1:4 this single-quoted string is never closed (missing ')"]);
    expect(problems(`${config(HOOK)}intake:\n  port: 1\n`)).toEqual(["lr.yaml:7:1 duplicate key 'intake' (a key may appear once per mapping)"]);
  });

  it('reports unknown keys at the key, with a suggestion when one is close', () => {
    expect(problems(config(`${HOOK}    retry: { atempts: 3 }\n    colour: red\n`, 'intake2: {}\n'))).toEqual([
      "lr.yaml:1:1 unknown key 'intake2' (did you mean 'intake'?)",
      "lr.yaml:8:14 destinations[0].retry: unknown key 'atempts' (did you mean 'attempts'?)",
      "lr.yaml:9:5 destinations[0]: unknown key 'colour'",
    ]);
  });

  it('reports wrong types with what was found', () => {
    expect(problems(config(`${HOOK}    enabled: "yes"\n    match:\n      actions: INS\n`, 'worker:\n  metricsPort: 1.5\n'))).toEqual([
      'lr.yaml:2:16 worker.metricsPort: must be a whole number (got the number 1.5)',
      'lr.yaml:9:14 destinations[0].enabled: must be true or false (got the string "yes")',
      'lr.yaml:11:16 destinations[0].match.actions: must be a list (got the string "INS")',
    ]);
  });

  it('reports wrong kinds of value in fields, an unknown auth mode and a destination that is not a mapping', () => {
    const dests = `${HOOK}    fields: { a: [1], b: 2 }\n`
      + '  - id: crm\n    type: dynamics\n    instanceUrl: https://contoso.crm.dynamics.com\n    auth: { mode: token }\n'
      + '  - just-a-string\n';
    expect(problems(config(dests))).toEqual([
      'lr.yaml:7:18 destinations[0].fields.a: must be a string, a number or true or false (got a list)',
      "lr.yaml:11:19 destinations[1].auth.mode: unknown mode 'token'; expected one of client-secret, password",
      'lr.yaml:12:5 destinations[2]: must be a mapping of keys to values (got the string "just-a-string")',
    ]);
  });

  it('reports bad durations', () => {
    expect(problems(config(`${HOOK}    rateLimit: { max: 10, per: 10 seconds }\n`, 'retry:\n  maxDelay: 2hours\n'))).toEqual([
      'lr.yaml:2:13 retry.maxDelay: must be a duration like 500ms, 10s, 5m, 2h or 1d',
      'lr.yaml:9:32 destinations[0].rateLimit.per: must be a duration like 500ms, 10s, 5m, 2h or 1d',
    ]);
  });

  it('reports bad destination ids and duplicate ids, alongside other problems', () => {
    const dests = `${HOOK}  - id: Hook_2\n    type: https\n    url: https://b.example.com\n  - id: hook\n    type: https\n    url: https://c.example.com\n    timeout: soon\n`;
    expect(problems(config(dests))).toEqual([
      'lr.yaml:7:9 destinations[1].id: must match ^[a-z][a-z0-9-]{0,39}$ (lowercase letters, digits, dashes)',
      "lr.yaml:10:9 destinations[2].id: duplicate destination id 'hook' (first at destinations[0])",
      'lr.yaml:13:14 destinations[2].timeout: must be a duration like 500ms, 10s, 5m, 2h or 1d',
    ]);
  });

  it('reports an unknown or missing destination type with the known types', () => {
    expect(problems(config('  - id: a\n    type: hubspot\n  - id: b\n    url: https://x.example.com\n'))).toEqual([
      "lr.yaml:5:11 destinations[0].type: unknown type 'hubspot'; expected one of https, azure-table, dynamics, marketo, salesforce",
      "lr.yaml:6:5 destinations[1].type: 'type' is required: one of https, azure-table, dynamics, marketo, salesforce",
    ]);
  });

  it('requires https for a non-loopback host unless allowInsecure is set', () => {
    const insecure = (url: string, extra = '') => config(`  - id: a\n    type: https\n    url: ${url}\n${extra}`);
    expect(problems(insecure('http://hooks.example.com/x'))).toEqual([
      'lr.yaml:6:10 destinations[0].url: must be https; plain http is allowed only for loopback hosts or with allowInsecure: true',
    ]);
    expect(problems(insecure('ftp://hooks.example.com/x'))).toEqual(['lr.yaml:6:10 destinations[0].url: must be an absolute http(s) URL']);
    expect(ok(insecure('http://hooks.example.com/x', '    allowInsecure: true\n')).destinations[0]!.allowInsecure).toBe(true);
    for (const host of ['127.0.0.1:8081', 'localhost', '[::1]:9000']) expect(() => ok(insecure(`http://${host}/x`))).not.toThrow();
    // The azure-table endpoint comes from the connection string.
    const table = (cs: string, extra = '') => config(`  - id: t\n    type: azure-table\n    connectionString: "${cs}"\n${extra}`);
    const azurite = 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://azurite:10002/devstoreaccount1;';
    expect(problems(table(azurite))[0]).toMatch(/^lr\.yaml:6:23 destinations\[0\]\.connectionString: must be https/);
    expect(() => ok(table(azurite, '    allowInsecure: true\n'))).not.toThrow();
    expect(() => ok(table('UseDevelopmentStorage=true'))).not.toThrow();
  });

  it('applies per-type rules', () => {
    const marketo = '  - id: mkto\n    type: marketo\n    restUrl: https://123-abc-456.mktorest.com\n    clientId: id\n    clientSecret: s\n    operation: push\n';
    const w2l = '  - id: sf\n    type: salesforce\n    mode: web-to-lead\n    oid: 12345\n';
    const api = '  - id: sf-api\n    type: salesforce\n    mode: api\n    loginUrl: https://acme.my.salesforce.com\n    clientSecret: s\n';
    expect(problems(config(marketo + w2l + api))).toEqual([
      "lr.yaml:4:5 destinations[0].programName: is required when operation is 'push'",
      'lr.yaml:13:10 destinations[1].oid: must be a string (got the number 12345)',
      "lr.yaml:14:5 destinations[2].clientId: is required when mode is 'api'",
    ]);
    expect(problems(config(w2l.replace('12345', '"00Dbad"')))).toEqual([
      'lr.yaml:7:10 destinations[0].oid: must be a Salesforce organization id: 00D followed by 12 or 15 letters and digits',
    ]);
  });

  it('reports unknown template variables in fields at the value', () => {
    expect(problems(config(`${HOOK}    fields:\n      ok: "{{customer.email}} {{extra.campaign}}"\n      bad: "{{offer}} {{customer.age}}"\n      worse: "{{owner}}"\n`))).toEqual([
      "lr.yaml:9:12 destinations[0].fields.bad: unknown customer field 'age' (known: firstName, lastName, email, phone, country, company, title)",
      "lr.yaml:10:14 destinations[0].fields.worse: unknown template variable '{{owner}}' (known: id, source, action, offer, offerTitle, leadSource, description, createdAt, customer.<field>, extra.<key>)",
    ]);
  });

  it('reports every problem of a file at once, in file order', () => {
    const src = [
      'redis:',
      '  url: http://cache:6379', // 2:8
      'intake:',
      '  apiKeys: [short]', // 4:13
      '  port: 70000', // 5:9
      'ops:',
      '  password: ${OPS_PASSWORD}', // 7:13
      'retry: { attempts: 0 }', // 8:20
      'destinations:',
      '  - id: crm', // 10:5 (missing instanceUrl, auth)
      '    type: dynamics',
      '    concurrency: many', // 12:18
      '  - id: crm', // 13:9 duplicate
      '    type: https',
      '    url: https://x.example.com',
      '    format: xml', // 16:13
      '',
    ].join('\n');
    const got = problems(src);
    expect(got).toEqual([
      'lr.yaml:2:8 redis.url: must be a redis:// or rediss:// URL',
      'lr.yaml:4:13 intake.apiKeys[0]: must be at least 16 characters',
      'lr.yaml:5:9 intake.port: must be at most 65535',
      'lr.yaml:7:13 environment variable OPS_PASSWORD is not set (set it, or write ${OPS_PASSWORD:-default})',
      'lr.yaml:8:20 retry.attempts: must be at least 1',
      "lr.yaml:10:5 destinations[0].instanceUrl: 'instanceUrl' is required",
      "lr.yaml:10:5 destinations[0].auth: 'auth' is required",
      'lr.yaml:12:18 destinations[0].concurrency: must be a number (got the string "many")',
      "lr.yaml:13:9 destinations[1].id: duplicate destination id 'crm' (first at destinations[0])",
      'lr.yaml:16:13 destinations[1].format: must be one of: marketplace, canonical',
    ]);
    // The thrown message is the same list, one problem per line.
    try {
      parseConfig(src, 'lr.yaml', { env: {} });
    } catch (e) {
      expect((e as Error).message.split('\n')).toEqual(got);
    }
  });

  it('requires intake and at least one destination', () => {
    expect(problems('redis: {}\n')).toEqual([
      "lr.yaml:1:1 intake: 'intake' is required",
      "lr.yaml:1:1 destinations: 'destinations' is required",
    ]);
    expect(problems(`intake:\n  apiKeys: [${KEY}]\ndestinations: []\n`)).toEqual(['lr.yaml:3:15 destinations: needs at least one destination']);
  });
});

describe('defaults', () => {
  it('fills every default and parses durations to milliseconds', () => {
    const c = ok(config(HOOK));
    expect(c.redis).toEqual({ url: 'redis://127.0.0.1:6379', prefix: 'leadrelay' });
    expect(c.intake).toEqual({ host: '0.0.0.0', port: 8080, apiKeys: [KEY], maxBodyBytes: 65_536, dedupeWindow: 86_400_000, durability: 'none', durabilityTimeout: 2000 });
    expect(c.ops).toEqual({ host: '0.0.0.0', port: 3000, username: 'ops' });
    expect(c.worker).toEqual({ host: '0.0.0.0', metricsPort: 9464, shutdownTimeout: 30_000, lockDuration: 20_000, repairEvery: 600_000 });
    // attempts: derived per destination from the 72 h horizon (see retry-horizon.test.ts).
    expect(c.retry).toEqual({ attempts: 82, horizon: 259_200_000, initialDelay: 10_000, maxDelay: 7_200_000, maxThrottleWait: 86_400_000 });
    expect(c.defaults.placeholder).toBe('[not provided]');
    expect(c.destinations[0]).toMatchObject({ enabled: true, allowInsecure: false, match: { testLeads: true }, format: 'marketplace', timeout: 10_000 });
    expect(c.file).toBe('lr.yaml');
  });

  it('merges each destination retry over the global one and applies per-type concurrency and rate limits', () => {
    const dests = `${HOOK}    retry: { attempts: 20, maxDelay: 30m }\n`
      + '  - id: mkto\n    type: marketo\n    restUrl: https://123-abc-456.mktorest.com\n    clientId: id\n    clientSecret: s\n'
      + '  - id: table\n    type: azure-table\n    connectionString: UseDevelopmentStorage=true\n    concurrency: 2\n    rateLimit: { max: 5, per: 1s }\n';
    const c = ok(config(dests, 'retry: { initialDelay: 5s }\n'));
    const [hook, mkto, table] = c.destinations;
    expect(hook!.retry).toEqual({ attempts: 20, horizon: 259_200_000, initialDelay: 5000, maxDelay: 1_800_000, maxThrottleWait: 86_400_000 });
    expect(mkto!.retry).toEqual({ attempts: 83, horizon: 259_200_000, initialDelay: 5000, maxDelay: 7_200_000, maxThrottleWait: 86_400_000 });
    expect(hook!.concurrency).toBe(8);
    expect(hook!.rateLimit).toBeUndefined();
    expect(mkto!.concurrency).toBe(5);
    expect(mkto!.rateLimit).toEqual({ max: 80, per: 20_000 });
    expect(table!.concurrency).toBe(2);
    expect(table!.rateLimit).toEqual({ max: 5, per: 1000 });
  });
});

describe('loadConfig', () => {
  it('reads a file and names it in problems', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lr-config-'));
    const file = join(dir, 'leadrelay.yaml');
    writeFileSync(file, config(HOOK));
    expect(loadConfig(file, { env: {} }).file).toBe(file);
    writeFileSync(file, config(HOOK, 'bogus: 1\n'));
    expect(() => loadConfig(file, { env: {} })).toThrow(`${file}:1:1 unknown key 'bogus'`);
  });

  it('says when the file cannot be read', () => {
    expect(() => loadConfig('/nonexistent/leadrelay.yaml')).toThrow('/nonexistent/leadrelay.yaml:1:1 cannot read config: ENOENT');
  });
});

describe('sources', () => {
  const SECRET = Buffer.alloc(32, 1).toString('base64');
  const TABLE = '  - id: old-table\n    type: azure-table\n    connectionString: UseDevelopmentStorage=true\n';
  const REFERRALS = '  - id: pc\n    type: referrals\n    tenantId: contoso.onmicrosoft.com\n    clientId: app-1\n';

  it('defaults: none; per type pollEvery 1m (table) and 5m (referrals), start now, incoming referrals', () => {
    expect(ok(config(HOOK)).sources).toEqual([]);
    const c = ok(config(HOOK, `secrets: { key: ${SECRET} }\nsources:\n${TABLE}${REFERRALS}`));
    expect(c.sources[0]).toEqual({ id: 'old-table', type: 'azure-table', enabled: true, pollEvery: 60_000, start: 'now', match: { testLeads: true },
      connectionString: 'UseDevelopmentStorage=true', table: 'MarketplaceLeads', pageSize: 1000, allowInsecure: false });
    expect(c.sources[1]).toMatchObject({ id: 'pc', pollEvery: 300_000, start: 'now', apiUrl: 'https://api.partner.microsoft.com',
      authorityHost: 'https://login.microsoftonline.com', pageSize: 100, timeout: 30_000, filter: { directions: ['Incoming'] } });
    expect(c.dedupe).toEqual({ identity: ['email', 'offer', 'action'], window: 7 * 86_400_000, customer: 'off' });
  });

  it('takes all, an ISO date, a pollEvery and a match', () => {
    const c = ok(config(HOOK, `sources:\n${TABLE}    start: 2024-03-01T00:00:00Z\n    pollEvery: 30s\n    match: { testLeads: false }\n  - id: t2\n    type: azure-table\n    connectionString: x\n    start: all\n`));
    expect(c.sources.map((s) => [s.start, s.pollEvery, s.match.testLeads])).toEqual([['2024-03-01T00:00:00Z', 30_000, false], ['all', 60_000, true]]);
  });

  it('reports problems at file:line:col: type, start, duplicate id, writeBack target, missing secrets.key, bad key, http apiUrl', () => {
    const src = [
      `intake:\n  apiKeys: [${KEY}]`, // 1-2
      'secrets:',
      '  key: not-base64!', // 4:8
      'sources:',
      '  - id: a', // 6
      '    type: rss', // 7:11
      '  - id: b',
      '    type: azure-table',
      '    connectionString: x',
      '    start: yesterday', // 11:12
      '  - id: b', // 12:9
      '    type: referrals',
      '    tenantId: t',
      '    clientId: c',
      '    apiUrl: http://pc.example.com', // 16:13
      '    writeBack: { destination: crm }', // 17:31
      'destinations:',
      HOOK,
    ].join('\n');
    expect(problems(src)).toEqual([
      'lr.yaml:4:8 secrets.key: must be 32 bytes in base64 (44 characters; make one with `openssl rand -base64 32`)',
      "lr.yaml:7:11 sources[0].type: unknown type 'rss'; expected one of referrals, azure-table",
      "lr.yaml:11:12 sources[1].start: must be 'now', 'all' or an ISO date such as 2024-01-01 or 2024-01-01T08:00:00Z",
      "lr.yaml:12:9 sources[2].id: duplicate source id 'b' (first at sources[1])",
      'lr.yaml:16:13 sources[2].apiUrl: must be an https URL (plain http only for loopback hosts)',
      "lr.yaml:17:31 sources[2].writeBack.destination: names no destination: 'crm' (destinations: hook)",
    ]);
    expect(problems(config(HOOK, `sources:\n${REFERRALS}`))).toEqual(['lr.yaml:3:11 sources[0].type: a referrals source needs secrets.key (32 bytes, base64) to encrypt its token cache']);
  });
});
