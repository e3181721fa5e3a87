import { Writable } from 'node:stream';
import {
  InvalidAuthenticationError, InvalidConfigurationError, PayloadValidationError, RetryableError, ThrottledError,
  type DeliveryError, type Lead,
} from '@leadrelay/core';
import { createLogger } from '@leadrelay/observability';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { AzureAdServer, type AadstsCode } from '../../../../test/fakes/azure-ad/index.js';
import { DataverseServer } from '../../../../test/fakes/dataverse/index.js';
import { freePort } from '../../../../test/helpers/free-port.js';
import { readTlsCert } from '../../../../test/helpers/tls-cert.js';
import type { CommonDestinationSettings, DestinationContext } from '../destination.js';
import { MemoryRollingQuota } from '../shared/memory-rolling-quota.js';
import { DynamicsClient, type DynamicsClientOptions } from './dynamics-client.js';
import { dynamicsSettings, type DynamicsSettings } from './settings.js';
import { deliveryFailure } from '../../../../test/helpers/delivery-failure.js';

const TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
const CLIENT_ID = 'c0ffee00-1111-4222-8333-444455556666';
const PUBLIC_CLIENT_ID = '51f81489-12ee-4a9e-aaae-a2591f45987d';
// Distinctive values: no error message, remediation or log line may ever contain them.
const SECRET = 'Qz8~sEcReT.vAlUe-4f7a9c2e1b_ZZ';
const PASSWORD = 'Pw!d1stinct1ve-9b8c7d6e5f';
const USERNAME = 'leadwriter@contoso.onmicrosoft.com';
const MFA_USERNAME = 'mfa-user@contoso.onmicrosoft.com';
/** A tenant whose only Dynamics environment is another one: tokens for our fake's URL fail with AADSTS500011. */
const OTHER_TENANT = 'contoso.onmicrosoft.com';

const lead: Lead = {
  id: 'lead-123', source: 'AzureMarketplace', action: 'INS', offer: 'contoso.widget-pro', offerTitle: 'Widget Pro',
  customer: { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@contoso.com', phone: '+44 20 7946 0000', country: 'GB', company: 'Contoso', title: 'CTO' },
  description: 'Wants a demo', createdAt: '2024-05-01T10:00:00.000Z', testLead: false,
};
const LEAD_123_RECORD = '558ab3ec-782f-57bc-9900-1d3e0c4a53c9';

let ad: AzureAdServer;
let dv: DataverseServer;
let logText = '';
/** Every error any test saw, checked for secrets at the end. */
const seen: DeliveryError[] = [];

const ctx: DestinationContext = {
  logger: createLogger({ level: 'debug', destination: new Writable({ write(chunk, _enc, cb) { logText += String(chunk); cb(); } }) }),
  placeholder: '[not provided]',
  rollingQuota: (_name, limit, windowMs) => new MemoryRollingQuota(limit, windowMs),
};

type Overrides = Partial<Omit<DynamicsSettings, 'auth'>> & { auth?: Record<string, unknown>; fields?: CommonDestinationSettings['fields'] };

function settings(o: Overrides = {}): DynamicsSettings & CommonDestinationSettings {
  const { auth, fields, ...rest } = o;
  const parsed = dynamicsSettings.parse({
    instanceUrl: dv.url,
    ...rest,
    auth: auth?.mode === 'password' ? auth : { mode: 'client-secret', tenantId: TENANT, clientId: CLIENT_ID, clientSecret: SECRET, authorityHost: ad.authorityHost, ...auth },
  });
  return { ...parsed, id: 'crm', type: 'dynamics', enabled: true, allowInsecure: false, fields };
}

function passwordAuth(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { mode: 'password', tenantId: TENANT, clientId: PUBLIC_CLIENT_ID, username: USERNAME, password: PASSWORD, authorityHost: ad.authorityHost, ...extra };
}

function client(o: Overrides = {}, options?: DynamicsClientOptions): DynamicsClient {
  return new DynamicsClient(settings(o), ctx, options);
}

async function failure(p: Promise<unknown>): Promise<DeliveryError> {
  const e = await deliveryFailure(p);
  seen.push(e);
  return e;
}

beforeAll(async () => {
  const tls = readTlsCert(inject('tlsCert'));
  ad = await AzureAdServer.start({ tls });
  dv = await DataverseServer.start({ tokens: ad });
  ad.addTenant(TENANT);
  ad.addApp(TENANT, { clientId: CLIENT_ID, secret: SECRET });
  ad.addApp(TENANT, { clientId: PUBLIC_CLIENT_ID, publicClient: true });
  ad.addUser(TENANT, { username: USERNAME, password: PASSWORD });
  ad.addUser(TENANT, { username: MFA_USERNAME, password: PASSWORD, mfaRequired: true });
  ad.addTenant(OTHER_TENANT, { resources: ['https://contoso.crm4.dynamics.com'] });
  ad.addApp(OTHER_TENANT, { clientId: CLIENT_ID, secret: SECRET });
});

afterAll(async () => {
  await dv?.close();
  await ad?.close();
});

afterEach(() => {
  ad.clearFaults();
  dv.clearFaults();
});

describe('DynamicsClient delivery', () => {
  it('creates the lead with PATCH leads(<uuid v5 of the lead id>) and If-None-Match: *, OData headers and the documented mapping as body', async () => {
    const tokensBefore = ad.tokenRequests.length;
    const writesBefore = dv.requests.length;
    const result = await client().deliver(lead);
    expect(result).toEqual({ remoteId: LEAD_123_RECORD });

    const [req, ...others] = dv.requests.slice(writesBefore);
    expect(others).toHaveLength(0);
    expect(req!.method).toBe('PATCH');
    expect(req!.url).toBe(`/api/data/v9.2/leads(${LEAD_123_RECORD})`);
    expect(req!.headers.accept).toBe('application/json');
    expect(req!.headers['odata-maxversion']).toBe('4.0');
    expect(req!.headers['odata-version']).toBe('4.0');
    expect(req!.headers['content-type']).toMatch(/^application\/json/);
    // Create-only (the default writeMode): a retry never needs prvWriteLead.
    expect(req!.headers['if-match']).toBeUndefined();
    expect(req!.headers['if-none-match']).toBe('*');
    const issued = ad.issued.at(-1)!;
    expect(req!.headers.authorization).toBe(`Bearer ${issued.accessToken}`);
    expect(req!.json).toEqual({
      firstname: 'Ada', lastname: 'Lovelace', emailaddress1: 'ada@contoso.com', telephone1: '+44 20 7946 0000',
      address1_country: 'GB', companyname: 'Contoso', jobtitle: 'CTO', subject: 'AzureMarketplace-INS|contoso.widget-pro',
      description: 'Wants a demo', leadsourcecode: 8,
    });
    expect(dv.leads.get(LEAD_123_RECORD)).toMatchObject({ lastname: 'Lovelace', leadsourcecode: 8 });

    // The token came from the configured (non-Microsoft) authority via the client-credentials grant.
    const [tokenReq] = ad.tokenRequests.slice(tokensBefore);
    expect(tokenReq!.path).toBe(`/${TENANT}/oauth2/v2.0/token`);
    expect(tokenReq!.form).toMatchObject({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: SECRET, scope: `${dv.url}/.default` });
    expect(issued.audience).toBe(dv.url);
    expect(ad.requests.some((r) => r.endpoint === 'openid-configuration' && r.tenant === TENANT)).toBe(true);
  });

  it('applies fields:, the placeholder and column max lengths', async () => {
    dv.addColumn('new_marketplaceoffer', { type: 'string', maxLength: 100 });
    const c = client({ fields: { new_marketplaceoffer: '{{offer}}', description: '{{description}} ({{offerTitle}})' }, leadSourceCode: 10 });
    const { remoteId } = await c.deliver({ ...lead, id: 'lead-fields', customer: { email: 'b@c.d', title: 'T'.repeat(150) } });
    expect(dv.leads.get(remoteId!)).toEqual({
      lastname: '[not provided]', emailaddress1: 'b@c.d', jobtitle: 'T'.repeat(100), subject: 'AzureMarketplace-INS|contoso.widget-pro',
      description: 'Wants a demo (Widget Pro)', leadsourcecode: 10, new_marketplaceoffer: 'contoso.widget-pro',
    });
  });

  it('caches the token: many leads, sequential and concurrent, one token request', async () => {
    const c = client();
    const before = ad.tokenRequests.length;
    await Promise.all([1, 2, 3, 4].map((n) => c.deliver({ ...lead, id: `cache-${n}` })));
    for (const n of [5, 6, 7]) await c.deliver({ ...lead, id: `cache-${n}` });
    expect(ad.tokenRequests.length - before).toBe(1);
    expect(dv.leads.has(LEAD_123_RECORD)).toBe(true);
  });

  it('writeMode upsert: a retried lead updates the same record: no duplicate', async () => {
    const c = client({ writeMode: 'upsert' });
    const writes = dv.leadWrites.length;
    const first = await c.deliver({ ...lead, id: 'retry-me' });
    const count = dv.leads.size;
    const second = await client({ writeMode: 'upsert' }).deliver({ ...lead, id: 'retry-me', customer: { ...lead.customer, title: 'CEO' } });
    expect(second.remoteId).toBe(first.remoteId);
    expect(dv.leads.size).toBe(count);
    expect(dv.leads.get(first.remoteId!)).toMatchObject({ jobtitle: 'CEO', firstname: 'Ada' });
    expect(dv.leadWrites.slice(writes).map((r) => r.path)).toEqual([`/api/data/v9.2/leads(${first.remoteId})`, `/api/data/v9.2/leads(${first.remoteId})`]);
  });

  it('a retry whose first try created the record (answer lost) is delivered with a create-only role: 412 counts as delivered', async () => {
    dv.privileges = { create: true, write: false };
    try {
      const c = client();
      const count = dv.leads.size;
      dv.injectFault({ kind: 'reset-after-write' });
      expect(await failure(c.deliver({ ...lead, id: 'lost-answer' }))).toBeInstanceOf(RetryableError);
      expect(dv.leads.size).toBe(count + 1);
      const again = await c.deliver({ ...lead, id: 'lost-answer' });
      expect(again.remoteId).toBe(dv.leadWrites.at(-1)!.path.match(/leads\((.*)\)/)![1]);
      expect(dv.leads.size).toBe(count + 1);
      expect(dv.leadWrites.at(-1)!.outcome).toBe(412);
      // The same retry as a plain upsert needs prvWriteLead, which this role lacks: the destination would pause.
      const err = await failure(client({ writeMode: 'upsert' }).deliver({ ...lead, id: 'lost-answer' }));
      expect(err).toBeInstanceOf(InvalidConfigurationError);
      expect(err.message).toContain('prvWriteLead');
    } finally {
      dv.privileges = { create: true, write: true };
    }
  });

  it('truncates over-long values to the column lengths, delivers, and returns a warning per field', async () => {
    const long = { ...lead, id: 'long-values', customer: { ...lead.customer, firstName: 'Ж'.repeat(300), company: 'C'.repeat(300) } };
    const result = await client().deliver(long);
    expect(dv.leads.get(result.remoteId!)).toMatchObject({ firstname: 'Ж'.repeat(50), companyname: 'C'.repeat(100) });
    expect(result.warnings).toEqual([
      'Dynamics lead field firstname holds 50 characters: the value (300 characters) was truncated',
      'Dynamics lead field companyname holds 100 characters: the value (300 characters) was truncated',
    ]);
  });

  it('403 "not a member of the organization" names the Application User step', async () => {
    dv.injectFault({ kind: 'not-member' });
    const err = await failure(client().deliver({ ...lead, id: 'no-app-user' }));
    expect(err).toBeInstanceOf(InvalidConfigurationError);
    expect(err.remediation).toMatch(/Power Platform admin center > Manage > Environments > the environment > Settings > Users \+ permissions > Application users > \+ New app user > \+ Add an app/);
    expect(err.remediation).toContain(CLIENT_ID);
    expect(err.remediation).toMatch(/Security roles/);
  });

  it('401: gets one fresh token and retries once', async () => {
    const c = client();
    await c.deliver({ ...lead, id: 'warm' });
    ad.revokeAllTokens(); // the cached token is no longer accepted
    const tokens = ad.tokenRequests.length;
    const writes = dv.leadWrites.length;
    await c.deliver({ ...lead, id: 'after-revoke' });
    expect(ad.tokenRequests.length - tokens).toBe(1);
    const [refused, retried] = dv.leadWrites.slice(writes);
    expect(refused!.outcome).toBe(401);
    expect(retried!.outcome).toBe(204);
    expect(retried!.headers.authorization).not.toBe(refused!.headers.authorization);
  });

  it('persistent 401 → InvalidAuthenticationError after exactly one refresh', async () => {
    const c = client();
    dv.injectFault({ kind: 'unauthorized' }, Infinity);
    const tokens = ad.tokenRequests.length;
    const writes = dv.leadWrites.length;
    const err = await failure(c.deliver(lead));
    expect(err).toBeInstanceOf(InvalidAuthenticationError);
    expect(err.kind).toBe('configuration');
    expect(err.status).toBe(401);
    expect(err.remediation).toContain('Application User');
    expect(err.remediation).toContain(CLIENT_ID);
    expect(ad.tokenRequests.length - tokens).toBe(2);
    expect(dv.leadWrites.length - writes).toBe(2);
  });
});

describe('DynamicsClient token failures (AADSTS → configuration with the setting to fix)', () => {
  const cases: { name: string; code: AadstsCode; setup: () => { o?: Overrides; undo?: () => void }; cls: typeof InvalidConfigurationError; mentions: string[] }[] = [
    { name: 'wrong client secret', code: 7000215, setup: () => ({ o: { auth: { clientSecret: 'not-the-secret-value' } } }), cls: InvalidAuthenticationError, mentions: ['auth.clientSecret', 'Certificates & secrets', 'Value (not its Secret ID)'] },
    {
      name: 'expired client secret', code: 7000222, cls: InvalidAuthenticationError, mentions: ['auth.clientSecret', 'expired'],
      setup: () => { ad.updateApp(TENANT, CLIENT_ID, { secretExpired: true }); return { undo: () => ad.updateApp(TENANT, CLIENT_ID, { secretExpired: false }) }; },
    },
    { name: 'client secret mismatch (70002)', code: 70002, setup: () => { ad.injectTokenFault({ kind: 'aadsts', code: 70002 }); return {}; }, cls: InvalidAuthenticationError, mentions: ['auth.clientSecret'] },
    { name: 'unknown tenant', code: 90002, setup: () => ({ o: { auth: { tenantId: '00000000-0000-4000-8000-000000000000' } } }), cls: InvalidConfigurationError, mentions: ['auth.tenantId', 'Directory (tenant) ID', 'no active subscriptions'] },
    { name: 'unknown tenant at the token endpoint', code: 90002, setup: () => { ad.injectTokenFault({ kind: 'aadsts', code: 90002 }); return {}; }, cls: InvalidConfigurationError, mentions: ['auth.tenantId'] },
    { name: 'malformed tenant', code: 900023, setup: () => ({ o: { auth: { tenantId: 'contoso' } } }), cls: InvalidConfigurationError, mentions: ['auth.tenantId', 'neither a valid tenant ID nor a valid domain'] },
    { name: 'missing tenant realm', code: 90019, setup: () => { ad.injectTokenFault({ kind: 'aadsts', code: 90019 }); return {}; }, cls: InvalidConfigurationError, mentions: ['auth.tenantId'] },
    { name: 'unknown application', code: 700016, setup: () => ({ o: { auth: { clientId: '0badc0de-0000-4000-8000-000000000001' } } }), cls: InvalidAuthenticationError, mentions: ['auth.clientId', 'Application (client) ID', '0badc0de-0000-4000-8000-000000000001'] },
    { name: 'application not in directory (700011)', code: 700011, setup: () => { ad.injectTokenFault({ kind: 'aadsts', code: 700011 }); return {}; }, cls: InvalidAuthenticationError, mentions: ['auth.clientId'] },
    { name: 'password mode with a confidential app', code: 7000218, setup: () => ({ o: { auth: passwordAuth({ clientId: CLIENT_ID }) } }), cls: InvalidAuthenticationError, mentions: ['Allow public client flows', 'auth.mode: client-secret'] },
    { name: 'environment unknown in the tenant', code: 500011, setup: () => ({ o: { auth: { tenantId: OTHER_TENANT } } }), cls: InvalidConfigurationError, mentions: ['Fix instanceUrl', 'auth.tenantId'] },
    { name: 'MFA required for the password flow', code: 50076, setup: () => ({ o: { auth: passwordAuth({ username: MFA_USERNAME }) } }), cls: InvalidConfigurationError, mentions: ['multi-factor', 'auth.mode: client-secret'] },
    { name: 'wrong password (ROPC)', code: 50126, setup: () => ({ o: { auth: passwordAuth({ password: 'wrong-password-123' }) } }), cls: InvalidAuthenticationError, mentions: ['auth.username', 'auth.password', 'license'] },
  ];

  for (const c of cases) {
    it(`${c.name}: AADSTS${c.code}`, async () => {
      const { o, undo } = c.setup();
      try {
        const writes = dv.leadWrites.length;
        const err = await failure(client(o).deliver(lead));
        expect(err).toBeInstanceOf(c.cls);
        expect(err.kind).toBe('configuration');
        expect(err.destinationCode).toBe(`AADSTS${c.code}`);
        expect(err.message).toContain(`AADSTS${c.code}`);
        for (const m of c.mentions) expect(err.remediation).toContain(m);
        expect(err.remediation).toContain('leadrelay resume');
        expect(dv.leadWrites.length).toBe(writes); // nothing reached Dataverse
      } finally {
        undo?.();
      }
    });
  }

  it('check() reports the same remediation without creating a lead', async () => {
    const before = dv.leads.size;
    const result = await client({ auth: { clientSecret: 'nope-nope-nope' } }).check();
    expect(result.ok).toBe(false);
    expect(result.message).toContain('AADSTS7000215');
    expect(result.remediation).toContain('auth.clientSecret');
    expect(dv.leads.size).toBe(before);
  });

  it('Entra ID 429 → ThrottledError, 500 → RetryableError, no answer → RetryableError', async () => {
    ad.injectTokenFault({ kind: 'throttle', retryAfterSeconds: 3 });
    const throttled = await failure(client().deliver(lead));
    expect(throttled).toBeInstanceOf(ThrottledError);
    expect((throttled as ThrottledError).retryAfterMs).toBeGreaterThan(0);

    ad.injectTokenFault({ kind: 'server-error' });
    const down = await failure(client().deliver(lead));
    expect(down).toBeInstanceOf(RetryableError);
    expect(down.kind).toBe('transient');

    ad.injectTokenFault({ kind: 'hang' });
    const hung = await failure(client({}, { timeoutMs: 300 }).deliver(lead));
    expect(hung).toBeInstanceOf(RetryableError);

    ad.injectTokenFault({ kind: 'reset' });
    const reset = await failure(client().deliver(lead));
    expect(reset).toBeInstanceOf(RetryableError);
  });

  it('MSAL replaying its own throttle after a 429 is a wait, not a failed attempt', async () => {
    const c = client();
    ad.injectTokenFault({ kind: 'throttle', retryAfterSeconds: 30 });
    const first = await failure(c.deliver(lead));
    expect(first).toBeInstanceOf(ThrottledError);
    const tokenCalls = ad.tokenRequests.length;
    const second = await failure(c.deliver(lead));
    expect(second).toBeInstanceOf(ThrottledError);
    expect(ad.tokenRequests.length).toBe(tokenCalls); // served by MSAL's throttle cache, Entra ID not called
  });

  it('a plain-http authority (allowed by config for loopback) is configuration: MSAL needs https', async () => {
    const err = await failure(client({ auth: { authorityHost: `http://127.0.0.1:${ad.port}` } }).deliver(lead));
    expect(err).toBeInstanceOf(InvalidConfigurationError);
    expect(err.destinationCode).toBe('authority_uri_insecure');
    expect(err.remediation).toContain('auth.authorityHost');
  });

  it('an unreachable authority is transient', async () => {
    const port = await freePort();
    const err = await failure(client({ auth: { authorityHost: `https://127.0.0.1:${port}` } }).deliver(lead));
    expect(err).toBeInstanceOf(RetryableError);
  });
});

describe('DynamicsClient Dataverse failures', () => {
  it.each([
    ['privilege-denied', '0x80040220', 'prvCreateLead'],
    ['attribute-privilege-create', '0x8004f502', 'leadsourcecode'],
    ['no-roles', '0x80042f09', 'no security role'],
  ] as const)('403 %s → configuration: assign the Microsoft Marketplace Lead Writer role', async (kind, code, mention) => {
    dv.injectFault({ kind });
    const err = await failure(client().deliver(lead));
    expect(err).toBeInstanceOf(InvalidConfigurationError);
    expect(err.kind).toBe('configuration');
    expect(err.status).toBe(403);
    expect(err.destinationCode).toBe(code);
    expect(err.remediation).toContain('Assign the Microsoft Marketplace Lead Writer role');
    expect(err.remediation).toContain('System Job');
    expect(err.remediation).toContain('Application users');
    expect(err.remediation).toContain(mention);
  });

  it.each(['0x80072322', '0x80072321', '0x80072326'] as const)('429 service protection %s → ThrottledError by Retry-After', async (code) => {
    dv.injectFault({ kind: 'throttle', code, retryAfterSeconds: 7 });
    const err = await failure(client().deliver(lead));
    expect(err).toBeInstanceOf(ThrottledError);
    expect((err as ThrottledError).retryAfterMs).toBe(7000);
    expect(err.destinationCode).toBe(code);
    expect(err.message).toContain('service protection');
  });

  it('400 unknown column → PayloadValidationError with Dataverse\'s message', async () => {
    const err = await failure(client({ fields: { new_nosuchcolumn: '{{offer}}' } }).deliver(lead));
    expect(err).toBeInstanceOf(PayloadValidationError);
    expect(err.kind).toBe('permanent');
    expect(err.destinationCode).toBe('0x80060888');
    expect(err.message).toContain("Could not find a property named 'new_nosuchcolumn' on type 'Microsoft.Dynamics.CRM.lead'");
    expect(err.remediation).toContain('new_nosuchcolumn');
    expect(err.remediation).toContain('fields:');
  });

  it('400 bad value → PayloadValidationError', async () => {
    const err = await failure(client({ leadSourceCode: 99 }).deliver(lead));
    expect(err).toBeInstanceOf(PayloadValidationError);
    expect(err.message).toContain('outside the valid range');
  });

  it('5xx, slow replies and resets are transient', async () => {
    dv.injectFault({ kind: 'server-error', status: 503 });
    expect(await failure(client().deliver(lead))).toBeInstanceOf(RetryableError);
    dv.injectFault({ kind: 'server-error' });
    const e500 = await failure(client().deliver(lead));
    expect(e500).toBeInstanceOf(RetryableError);
    expect(e500.message).toContain('An unexpected error occurred.');
    const c = client({}, { timeoutMs: 300 });
    await c.check(); // warm the token so only the Web API call is slow
    dv.injectFault({ kind: 'slow', delayMs: 3_000 });
    const slow = await failure(c.deliver(lead));
    expect(slow).toBeInstanceOf(RetryableError);
    expect(slow.destinationCode).toBe('ETIMEDOUT');
    dv.injectFault({ kind: 'reset' });
    expect(await failure(client().deliver(lead))).toBeInstanceOf(RetryableError);
  });

  it('an instanceUrl that is not Dataverse → configuration "fix instanceUrl"', async () => {
    // A web site: HTML 404 for /api/data.
    const html = await failure(client({ instanceUrl: `${dv.url}/crm` }).deliver(lead));
    expect(html).toBeInstanceOf(InvalidConfigurationError);
    expect(html.remediation).toContain('Fix instanceUrl');

    // Nothing listening.
    const port = await freePort();
    const refused = await failure(client({ instanceUrl: `http://127.0.0.1:${port}` }).deliver(lead));
    expect(refused).toBeInstanceOf(InvalidConfigurationError);
    expect(refused.destinationCode).toBe('ECONNREFUSED');
    expect(refused.remediation).toContain('Fix instanceUrl');

    // A 200 web page where the Web API should be.
    dv.injectFault({ kind: 'reply', status: 200, headers: { 'Content-Type': 'text/html' }, body: '<html><body>Sign in</body></html>' });
    const page = await failure(client().deliver(lead));
    expect(page).toBeInstanceOf(InvalidConfigurationError);
    expect(page.remediation).toContain('Fix instanceUrl');
  });
});

describe('DynamicsClient over HTTPS', () => {
  it('delivers to an https environment (test certificate trusted through NODE_EXTRA_CA_CERTS)', async () => {
    const secure = await DataverseServer.start({ tokens: ad, tls: readTlsCert(inject('tlsCert')) });
    try {
      expect(secure.url).toMatch(/^https:/);
      const { remoteId } = await client({ instanceUrl: secure.url }).deliver(lead);
      expect(remoteId).toBe(LEAD_123_RECORD);
      expect(secure.leads.get(LEAD_123_RECORD)).toMatchObject({ subject: 'AzureMarketplace-INS|contoso.widget-pro' });
      expect(ad.issued.at(-1)!.audience).toBe(secure.url);
    } finally {
      await secure.close();
    }
  });
});

describe('DynamicsClient password mode (ROPC)', () => {
  it('delivers with a user token for <env>/user_impersonation, cached across leads', async () => {
    const c = client({ auth: passwordAuth() });
    const before = ad.tokenRequests.length;
    await c.deliver({ ...lead, id: 'ropc-1' });
    await c.deliver({ ...lead, id: 'ropc-2' });
    await c.deliver({ ...lead, id: 'ropc-3' });
    const reqs = ad.tokenRequests.slice(before);
    expect(reqs).toHaveLength(1);
    expect(reqs[0]!.form).toMatchObject({ grant_type: 'password', client_id: PUBLIC_CLIENT_ID, username: USERNAME, password: PASSWORD });
    expect(reqs[0]!.form.scope!.split(' ')).toContain(`${dv.url}/user_impersonation`);
    expect(reqs[0]!.form.client_secret).toBeUndefined();
    expect(ad.issued.at(-1)!.username).toBe(USERNAME);

    ad.revokeAllTokens();
    await c.deliver({ ...lead, id: 'ropc-4' });
    expect(ad.tokenRequests.length - before).toBe(2);
    expect(ad.tokenRequests.at(-1)!.form.grant_type).toBe('password');
  });

  it('check() proves the user can sign in to Dataverse', async () => {
    const result = await client({ auth: passwordAuth() }).check();
    expect(result.ok).toBe(true);
    expect(result.message).toContain(USERNAME);
  });
});

describe('DynamicsClient check()', () => {
  it('gets a token and calls WhoAmI without creating a lead', async () => {
    const leads = dv.leads.size;
    const writes = dv.leadWrites.length;
    const from = dv.requests.length;
    const result = await client().check();
    expect(result).toMatchObject({ ok: true });
    expect(result.message).toContain('WhoAmI');
    expect(result.message).toMatch(/writeMode create-only: .*If-None-Match: \*.*prvCreateLead/);
    const calls = dv.requests.slice(from);
    expect(calls.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /api/data/v9.2/WhoAmI']);
    expect(calls[0]!.headers['if-none-match']).toBe('null');
    expect(dv.leads.size).toBe(leads);
    expect(dv.leadWrites.length).toBe(writes);
  });

  it('fails with a remediation when the identity has no role', async () => {
    dv.injectFault({ kind: 'no-roles' });
    const result = await client().check();
    expect(result.ok).toBe(false);
    expect(result.remediation).toContain('Microsoft Marketplace Lead Writer');
  });

  it('fails with "fix instanceUrl" when instanceUrl is a web site', async () => {
    const result = await client({ instanceUrl: `${dv.url}/portal` }).check();
    expect(result.ok).toBe(false);
    expect(result.remediation).toContain('Fix instanceUrl');
  });
});

describe('secrets', () => {
  it('never appear in error messages, remediations or logs', () => {
    expect(seen.length).toBeGreaterThan(20);
    const tokens = ad.issued.map((t) => t.accessToken);
    for (const e of seen) {
      const text = JSON.stringify({ message: e.message, remediation: e.remediation, json: e.toJSON(), stack: e.stack });
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(PASSWORD);
      for (const t of tokens) expect(text).not.toContain(t);
    }
    expect(logText.length).toBeGreaterThan(0);
    expect(logText).not.toContain(SECRET);
    expect(logText).not.toContain(PASSWORD);
    for (const t of tokens) expect(logText).not.toContain(t);
  });
});
