import { afterEach, describe, expect, it } from 'vitest';
import {
  DeliveryError, InvalidAuthenticationError, InvalidConfigurationError, PayloadValidationError, RetryableError, ThrottledError,
  type FieldValue, type Lead,
} from '@leadrelay/core';
import { silentLogger } from '@leadrelay/observability';
import { FakeSalesforce, REST_ERRORS, TOKEN_ERRORS, type FakeSalesforceOptions } from '../../../../test/fakes/salesforce/index.js';
import type { DestinationContext } from '../destination.js';
import { MemoryRollingQuota } from '../shared/index.js';
import { SalesforceRestClient } from './salesforce-rest-client.js';
import { salesforce } from './index.js';
import { API_LIMIT_WAIT_MS, CONCURRENT_LIMIT_WAIT_MS, TOKEN_RATE_LIMIT_WAIT_MS } from './salesforce-errors.js';
import { salesforceSettings } from './settings.js';
import { deliveryFailure } from '../../../../test/helpers/delivery-failure.js';

/** Distinctive, so a leak anywhere in an error is unmistakable. */
const SECRET = 'sfSecret-7Q2x9ZK4mWv8RtY3';

const lead: Lead = {
  id: 'lead-1',
  source: 'SPZA',
  action: 'PLT',
  offer: 'contoso.widget-pro',
  customer: { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', phone: '1234567890', country: 'GB', company: 'Analytical Engines', title: 'CTO' },
  description: 'Contact me',
  createdAt: '2024-05-01T10:00:00.000Z',
  testLead: false,
};

const ctx: DestinationContext = {
  logger: silentLogger,
  placeholder: '[not provided]',
  rollingQuota: (_name, limit, windowMs) => new MemoryRollingQuota(limit, windowMs),
};

const fakes: FakeSalesforce[] = [];
afterEach(async () => { await Promise.all(fakes.splice(0).map((f) => f.close())); });

async function start(options: FakeSalesforceOptions = {}): Promise<FakeSalesforce> {
  const fake = await FakeSalesforce.start({ clientId: '3MVG9-consumer-key', clientSecret: SECRET, ...options });
  fakes.push(fake);
  return fake;
}

function settings(fake: FakeSalesforce, over: { clientId?: string; clientSecret?: string; apiVersion?: string; fields?: Record<string, FieldValue>; extra?: Record<string, unknown> } = {}) {
  return {
    ...salesforceSettings.parse({
      mode: 'api', loginUrl: fake.url, clientId: over.clientId ?? '3MVG9-consumer-key', clientSecret: over.clientSecret ?? SECRET, apiVersion: over.apiVersion,
      ...over.extra,
    }),
    id: 'sf', type: 'salesforce', enabled: true, allowInsecure: false, fields: over.fields,
  };
}

function client(fake: FakeSalesforce, over: Parameters<typeof settings>[1] = {}, timeoutMs = 10_000): SalesforceRestClient {
  return new SalesforceRestClient(settings(fake, over), ctx, { timeoutMs });
}

async function failure(p: Promise<unknown>): Promise<DeliveryError> {
  const e = await deliveryFailure(p);
  expect(JSON.stringify(e.toJSON())).not.toContain(SECRET);
  expect(String(e.stack)).not.toContain(SECRET);
  return e;
}

describe('Salesforce REST (jsforce)', () => {
  it('gets a client-credentials token, then POSTs the Lead to /services/data/v62.0/sobjects/Lead; remoteId is the new id', async () => {
    const fake = await start();
    const result = await client(fake).deliver(lead);

    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /services/oauth2/token', 'GET /services/data/v62.0/sobjects/Lead/describe', 'POST /services/data/v62.0/sobjects/Lead']);
    const [token, , create] = fake.requests;
    expect(token!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(token!.form).toEqual([['grant_type', 'client_credentials'], ['client_id', '3MVG9-consumer-key'], ['client_secret', SECRET]]);
    expect(create!.headers.authorization).toBe(`Bearer ${fake.issuedTokens[0]}`);
    expect(create!.headers['content-type']).toBe('application/json');
    expect(create!.json).toEqual({
      FirstName: 'Ada', LastName: 'Lovelace', Email: 'ada@example.com', Phone: '1234567890', CountryCode: 'GB',
      Company: 'Analytical Engines', Title: 'CTO', Description: 'Contact me', LeadSource: 'SPZA-PLT|contoso.widget-pro',
    });
    expect(result).toEqual({ remoteId: fake.leads[0]!.id });
    expect(result.remoteId).toMatch(/^00Q/);
  });

  it('fills LastName and Company with the placeholder, cuts LeadSource to 255 and applies `fields:` (typed)', async () => {
    const fake = await start({ customFields: { Offer__c: 1000, Seats__c: 0, Trial__c: 0 } });
    const sparse: Lead = { ...lead, offer: `contoso.${'y'.repeat(300)}`, customer: { email: 'x@example.com' }, description: undefined };
    await client(fake, { fields: { Offer__c: '{{offer}}', Seats__c: 25, Trial__c: true, Country: 'Germany' } }).deliver(sparse);

    const body = fake.requestsTo('create-lead')[0]!.json as Record<string, unknown>;
    expect(body).toEqual({
      LastName: '[not provided]', Email: 'x@example.com', Company: '[not provided]', LeadSource: `SPZA-PLT|contoso.${'y'.repeat(300)}`.slice(0, 255),
      Offer__c: `contoso.${'y'.repeat(300)}`.slice(0, 1000), Seats__c: 25, Trial__c: true, Country: 'Germany',
    });
  });

  it('authorizes once and reuses the token', async () => {
    const fake = await start();
    const c = client(fake);
    await Promise.all([c.deliver(lead), c.deliver(lead), c.deliver(lead)]);
    await c.deliver(lead);
    expect(fake.requestsTo('token')).toHaveLength(1);
    expect(fake.leads).toHaveLength(4);
  });

  describe('expired session (401 INVALID_SESSION_ID)', () => {
    it('re-authorizes once and retries: the lead is created', async () => {
      const fake = await start();
      const c = client(fake);
      await c.deliver(lead);
      fake.expireSessions();

      const result = await c.deliver(lead);
      expect(fake.requests.map((r) => r.route)).toEqual(['token', 'describe-lead', 'create-lead', 'create-lead', 'token', 'create-lead']);
      expect(fake.requests[5]!.headers.authorization).toBe(`Bearer ${fake.issuedTokens[1]}`);
      expect(result.remoteId).toBe(fake.leads[1]!.id);
    });

    it('concurrent calls that saw the same expired token share one re-authorization', async () => {
      const fake = await start();
      const c = client(fake);
      await c.deliver(lead);
      fake.expireSessions();
      await Promise.all([c.deliver(lead), c.deliver(lead), c.deliver(lead)]);
      expect(fake.requestsTo('token')).toHaveLength(2);
      expect(fake.leads).toHaveLength(4);
    });

    it('a 401 right after a fresh token is a configuration error: one re-authorization, no loop', async () => {
      const fake = await start();
      fake.inject({ route: 'create-lead', answer: REST_ERRORS.INVALID_SESSION_ID, times: 100 });
      const err = await failure(client(fake).deliver(lead));
      expect(err).toBeInstanceOf(InvalidAuthenticationError);
      expect(err.destinationCode).toBe('INVALID_SESSION_ID');
      expect(err.message).toContain('Session expired or invalid');
      expect(err.remediation).toMatch(/API Enabled/);
      expect(fake.requests.map((r) => r.route)).toEqual(['token', 'describe-lead', 'create-lead', 'token', 'create-lead']);
    });

    it('the 401 jsforce never refreshes on ("not valid for use with the REST API") gets the same single retry', async () => {
      const fake = await start();
      fake.inject({ route: 'create-lead', answer: REST_ERRORS.SESSION_NOT_VALID_FOR_REST, times: 2 });
      const err = await failure(client(fake).deliver(lead));
      expect(err).toBeInstanceOf(InvalidAuthenticationError);
      expect(err.message).toContain('not valid for use with the REST API');
      expect(fake.requestsTo('token')).toHaveLength(2);
    });
  });

  describe('record-level rejections are permanent, with Salesforce\'s message and fields', () => {
    it('REQUIRED_FIELD_MISSING', async () => {
      const fake = await start();
      const err = await failure(client(fake, { fields: { Company: '{{customer.company}}' } }).deliver({ ...lead, customer: { lastName: 'X' } }));
      expect(err).toBeInstanceOf(PayloadValidationError);
      expect(err.destinationCode).toBe('REQUIRED_FIELD_MISSING');
      expect(err.message).toBe('Salesforce REST API answered REQUIRED_FIELD_MISSING: Required fields are missing: [Company] (fields: Company)');
      expect(err.remediation).toMatch(/\(Company\)/);
    });

    it('INVALID_FIELD', async () => {
      const fake = await start();
      const err = await failure(client(fake, { fields: { Marketplace_Offer__c: '{{offer}}' } }).deliver(lead));
      expect(err).toBeInstanceOf(PayloadValidationError);
      expect(err.destinationCode).toBe('INVALID_FIELD');
      expect(err.message).toContain("No such column 'Marketplace_Offer__c' on sobject of type Lead");
      expect(err.remediation).toMatch(/API name/);
    });

    it('STRING_TOO_LONG (a value too long for a field in fields:, past our truncation) keeps Salesforce\'s message', async () => {
      const fake = await start();
      fake.inject({ route: 'create-lead', answer: REST_ERRORS.STRING_TOO_LONG });
      const err = await failure(client(fake).deliver(lead));
      expect(err).toBeInstanceOf(PayloadValidationError);
      expect(err.destinationCode).toBe('STRING_TOO_LONG');
      expect(err.message).toContain('(max length=40) (fields: FirstName)');
    });

    it('FIELD_CUSTOM_VALIDATION_EXCEPTION', async () => {
      const fake = await start({ validationRules: [{ violated: (r) => !String(r.Phone ?? '').startsWith('+'), message: 'Phone must be in international format', field: 'Phone' }] });
      const err = await failure(client(fake).deliver(lead));
      expect(err).toBeInstanceOf(PayloadValidationError);
      expect(err.destinationCode).toBe('FIELD_CUSTOM_VALIDATION_EXCEPTION');
      expect(err.message).toContain('Phone must be in international format (fields: Phone)');
      expect(err.remediation).toMatch(/validation rule/);
    });

    it('DUPLICATES_DETECTED', async () => {
      const fake = await start({ duplicateRuleOnEmail: true });
      const c = client(fake);
      await c.deliver(lead);
      const err = await failure(c.deliver(lead));
      expect(err).toBeInstanceOf(PayloadValidationError);
      expect(err.destinationCode).toBe('DUPLICATES_DETECTED');
      expect(err.message).toContain('Use one of these records?');
      expect(err.remediation).toMatch(/duplicate rule/);
    });

    it('several errors at once (MULTIPLE_API_ERRORS) keep every message', async () => {
      const fake = await start();
      fake.inject({ route: 'create-lead', answer: { status: 400, body: [
        { message: 'Email: invalid email address: nope', errorCode: 'INVALID_EMAIL_ADDRESS', fields: ['Email'] },
        { message: 'Required fields are missing: [Company]', errorCode: 'REQUIRED_FIELD_MISSING', fields: ['Company'] },
      ] } });
      const err = await failure(client(fake).deliver(lead));
      expect(err).toBeInstanceOf(PayloadValidationError);
      expect(err.message).toContain('INVALID_EMAIL_ADDRESS: Email: invalid email address: nope (fields: Email); REQUIRED_FIELD_MISSING');
    });
  });

  describe('limits and outages', () => {
    it('REQUEST_LIMIT_EXCEEDED throttles for an hour (rolling 24 h API allowance, no Retry-After)', async () => {
      const fake = await start();
      fake.inject({ route: 'create-lead', answer: REST_ERRORS.REQUEST_LIMIT_EXCEEDED });
      const err = await failure(client(fake).deliver(lead));
      expect(err).toBeInstanceOf(ThrottledError);
      expect((err as ThrottledError).retryAfterMs).toBe(API_LIMIT_WAIT_MS);
      expect(API_LIMIT_WAIT_MS).toBe(3_600_000);
      expect(err.message).toContain('TotalRequests Limit exceeded.');
    });

    it('the concurrent-request flavour of REQUEST_LIMIT_EXCEEDED waits a minute', async () => {
      const fake = await start();
      fake.inject({ route: 'create-lead', answer: REST_ERRORS.CONCURRENT_REQUEST_LIMIT_EXCEEDED });
      const err = await failure(client(fake).deliver(lead));
      expect((err as ThrottledError).retryAfterMs).toBe(CONCURRENT_LIMIT_WAIT_MS);
    });

    it('5xx is transient (jsforce does not retry a POST itself)', async () => {
      const fake = await start();
      fake.inject({ route: 'create-lead', answer: REST_ERRORS.UNKNOWN_EXCEPTION });
      fake.inject({ route: 'create-lead', answer: REST_ERRORS.SERVER_UNAVAILABLE });
      const c = client(fake);
      const a = await failure(c.deliver(lead));
      const b = await failure(c.deliver(lead));
      expect(a).toBeInstanceOf(RetryableError);
      expect(a.destinationCode).toBe('UNKNOWN_EXCEPTION');
      expect(b).toBeInstanceOf(RetryableError);
      expect(fake.requestsTo('create-lead')).toHaveLength(2);
    });

    it('an HTML 502 from a proxy is transient', async () => {
      const fake = await start();
      fake.inject({ route: 'create-lead', answer: { status: 502, text: '<html><body>Bad Gateway</body></html>', headers: { 'content-type': 'text/html' } } });
      const err = await failure(client(fake).deliver(lead));
      expect(err).toBeInstanceOf(RetryableError);
      expect(err.message).toContain('HTTP 502');
    });

    it('a reset connection and a hung request are transient', async () => {
      const fake = await start();
      fake.inject({ route: 'create-lead', action: 'reset' });
      const c = client(fake, {}, 300);
      const reset = await failure(c.deliver(lead));
      expect(reset).toBeInstanceOf(RetryableError);
      expect(reset.message).toMatch(/could not be reached/);
      fake.inject({ route: 'create-lead', action: 'hang' });
      const hung = await failure(c.deliver(lead));
      expect(hung).toBeInstanceOf(RetryableError);
      expect(hung.destinationCode).toBe('TIMEOUT');
    });

    it('org and permission problems are configuration errors', async () => {
      const fake = await start();
      fake.inject({ route: 'create-lead', answer: REST_ERRORS.API_DISABLED_FOR_ORG });
      fake.inject({ route: 'create-lead', answer: REST_ERRORS.INSUFFICIENT_ACCESS });
      const c = client(fake);
      const disabled = await failure(c.deliver(lead));
      expect(disabled).toBeInstanceOf(InvalidConfigurationError);
      expect(disabled.remediation).toMatch(/web-to-lead/);
      const access = await failure(c.deliver(lead));
      expect(access).toBeInstanceOf(InvalidConfigurationError);
      expect(access.remediation).toMatch(/Create on Lead/);
    });

    it('an unknown apiVersion (404 NOT_FOUND) is a configuration error', async () => {
      const fake = await start();
      const err = await failure(client(fake, { apiVersion: '99.0' }).deliver(lead));
      expect(fake.requestsTo('describe-lead')[0]!.path).toBe('/services/data/v99.0/sobjects/Lead/describe');
      expect(err).toBeInstanceOf(InvalidConfigurationError);
      expect(err.remediation).toMatch(/apiVersion/);
    });
  });

  describe('token errors', () => {
    it('invalid_client_id (wrong clientId) is an authentication error naming the Consumer Key', async () => {
      const fake = await start();
      const err = await failure(client(fake, { clientId: 'wrong' }).deliver(lead));
      expect(err).toBeInstanceOf(InvalidAuthenticationError);
      expect(err.destinationCode).toBe('invalid_client_id');
      expect(err.message).toBe('Salesforce token endpoint answered invalid_client_id: client identifier invalid');
      expect(err.remediation).toMatch(/Consumer Key/);
      expect(fake.requestsTo('create-lead')).toHaveLength(0);
    });

    it('invalid_client (wrong clientSecret) is an authentication error naming the Consumer Secret, without the secret', async () => {
      const fake = await start();
      const err = await failure(client(fake, { clientSecret: `${SECRET}-old` }).deliver(lead));
      expect(err).toBeInstanceOf(InvalidAuthenticationError);
      expect(err.destinationCode).toBe('invalid_client');
      expect(err.remediation).toMatch(/Consumer Secret/);
    });

    it('invalid_grant (no run-as user) names the client credentials flow and the Run As user', async () => {
      const fake = await start({ runAsUser: false });
      const err = await failure(client(fake).deliver(lead));
      expect(err).toBeInstanceOf(InvalidConfigurationError);
      expect(err).not.toBeInstanceOf(InvalidAuthenticationError);
      expect(err.message).toContain('no client credentials user enabled');
      expect(err.remediation).toMatch(/Enable Client Credentials Flow.*Run As user/);
    });

    it.each([
      ['invalid_grant_domain', /My Domain/],
      ['unsupported_grant_type', /Enable Client Credentials Flow/],
      ['inactive_user', /Run As user is inactive/],
      ['inactive_org', /locked, closed or suspended/],
      ['invalid_client_credentials', /Consumer Secret/],
    ] as const)('%s is a configuration error with its own remediation', async (name, remediation) => {
      const fake = await start();
      fake.inject({ route: 'token', answer: TOKEN_ERRORS[name] });
      const err = await failure(client(fake).deliver(lead));
      expect(err).toBeInstanceOf(InvalidConfigurationError);
      expect(err.remediation).toMatch(remediation);
      expect(err.message).toContain(TOKEN_ERRORS[name].body.error_description);
    });

    it('rate_limit_exceeded throttles; a 5xx is transient; a 404 page means loginUrl is wrong', async () => {
      const fake = await start();
      fake.inject({ route: 'token', answer: TOKEN_ERRORS.rate_limit_exceeded });
      fake.inject({ route: 'token', answer: { status: 503, text: 'Service Unavailable' } });
      fake.inject({ route: 'token', answer: { status: 404, text: '<html>Not Found</html>' } });
      const c = client(fake);
      const limited = await failure(c.deliver(lead));
      expect(limited).toBeInstanceOf(ThrottledError);
      expect((limited as ThrottledError).retryAfterMs).toBe(TOKEN_RATE_LIMIT_WAIT_MS);
      expect(await failure(c.deliver(lead))).toBeInstanceOf(RetryableError);
      const notFound = await failure(c.deliver(lead));
      expect(notFound).toBeInstanceOf(InvalidConfigurationError);
      expect(notFound.remediation).toMatch(/loginUrl/);
      // A failed token request is not cached: the next delivery asks again and succeeds.
      await expect(c.deliver(lead)).resolves.toMatchObject({ remoteId: expect.stringMatching(/^00Q/) });
      expect(fake.requestsTo('token')).toHaveLength(4);
    });

    it('an unreachable loginUrl is transient', async () => {
      const fake = await start();
      const s = { ...settings(fake), loginUrl: 'http://127.0.0.1:1' };
      const err = await failure(new SalesforceRestClient(s, ctx, { timeoutMs: 10_000 }).deliver(lead));
      expect(err).toBeInstanceOf(RetryableError);
      expect(err.destinationCode).toBe('ECONNREFUSED');
    });
  });

  describe('secrets', () => {
    it('the client secret and access token never appear in errors, even when Salesforce echoes them', async () => {
      const fake = await start();
      fake.inject({ route: 'token', answer: { status: 400, body: { error: 'invalid_client', error_description: `invalid client credentials for client_secret=${SECRET}` } } });
      const c = client(fake);
      const tokenErr = await failure(c.deliver(lead));
      expect(tokenErr.message).toContain('client_secret=[redacted]');

      await c.deliver(lead); // now holds a token
      const token = fake.issuedTokens.at(-1)!;
      fake.inject({ route: 'create-lead', answer: { status: 400, body: [{ message: `bad header Bearer ${token} / ${SECRET}`, errorCode: 'JSON_PARSER_ERROR' }] } });
      const restErr = await failure(c.deliver(lead));
      for (const text of [restErr.message, restErr.remediation, JSON.stringify(restErr.toJSON()), String(restErr.stack)]) {
        expect(text).not.toContain(token);
        expect(text).not.toContain(SECRET);
      }
      const check = await client(fake, { clientSecret: 'another-wrong-secret-value' }).check();
      expect(JSON.stringify(check)).not.toContain('another-wrong-secret-value');
    });
  });

  describe('check()', () => {
    it('authorizes and describes Lead (read-only): no lead is created', async () => {
      const fake = await start();
      const result = await client(fake).check();
      expect(result.ok).toBe(true);
      expect(result.message).toMatch(/org 00D5g000004abcdAAA, run-as user 0055g00000AbCdEAAV/);
      expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /services/oauth2/token', 'GET /services/data/v62.0/sobjects/Lead/describe']);
      expect(fake.leads).toHaveLength(0);
    });

    it('fails with a remediation on bad credentials or when the run-as user cannot create leads', async () => {
      const fake = await start({ leadCreateable: false });
      const bad = await client(fake, { clientSecret: 'nope-wrong-secret' }).check();
      expect(bad.ok).toBe(false);
      expect(bad.message).toContain('invalid client credentials');
      expect(bad.remediation).toMatch(/Consumer Secret/);
      const readOnly = await client(fake).check();
      expect(readOnly.ok).toBe(false);
      expect(readOnly.remediation).toMatch(/Create on Lead/);
    });
  });

  it('the destination definition picks the REST client for mode api', async () => {
    const fake = await start();
    expect(await salesforce.create(settings(fake), ctx)).toBeInstanceOf(SalesforceRestClient);
  });

  describe('real-org setups', () => {
    const EXT = { LeadRelay_Id__c: { unique: true } };

    it('without externalIdField, a create whose answer is lost is retried into a second Lead (why upsert exists)', async () => {
      const fake = await start();
      const c = client(fake);
      fake.inject({ route: 'create-lead', action: 'reset-after-commit' });
      expect(await failure(c.deliver(lead))).toBeInstanceOf(RetryableError);
      await c.deliver(lead);
      expect(fake.leads).toHaveLength(2);
    });

    it('with externalIdField, a write whose answer is lost is retried into the same Lead: PATCH /sobjects/Lead/<field>/<lead id>', async () => {
      const fake = await start({ externalIdFields: EXT });
      const c = client(fake, { extra: { externalIdField: 'LeadRelay_Id__c' } });
      fake.inject({ route: 'upsert-lead', action: 'reset-after-commit' });
      expect(await failure(c.deliver(lead))).toBeInstanceOf(RetryableError);
      const again = await c.deliver(lead);
      expect(fake.leads).toHaveLength(1);
      expect(again.remoteId).toBe(fake.leads[0]!.id);
      expect(fake.leads[0]!.record.LeadRelay_Id__c).toBe('lead-1');
      const writes = fake.requestsTo('upsert-lead');
      expect(writes.map((r) => `${r.method} ${r.path}`)).toEqual(Array(2).fill('PATCH /services/data/v62.0/sobjects/Lead/LeadRelay_Id__c/lead-1'));
      expect(writes[0]!.json).not.toHaveProperty('LeadRelay_Id__c');
      // Another lead is another record.
      await c.deliver({ ...lead, id: 'lead-2' });
      expect(fake.leads).toHaveLength(2);
    });

    it('an external-ID value a URL path cannot carry is hashed, the same for every retry', async () => {
      const fake = await start({ externalIdFields: EXT });
      const c = client(fake, { extra: { externalIdField: 'LeadRelay_Id__c' } });
      await c.deliver({ ...lead, id: 'odd/id?#' });
      await c.deliver({ ...lead, id: 'odd/id?#' });
      expect(fake.leads).toHaveLength(1);
      expect(String(fake.leads[0]!.record.LeadRelay_Id__c)).toMatch(/^lr_[0-9a-f]{40}$/);
    });

    it('State and Country picklists: an ISO code goes to CountryCode, alpha-3 and names become the code', async () => {
      const fake = await start();
      const c = client(fake);
      for (const country of ['GB', 'usa', 'United Kingdom']) await c.deliver({ ...lead, customer: { ...lead.customer, country } });
      expect(fake.leads.map((l) => [l.record.CountryCode, l.record.Country])).toEqual([['GB', undefined], ['US', undefined], ['GB', undefined]]);
      // Today's mapping sends the code as Country, which such an org refuses.
      const err = await failure(client(fake, { extra: { countryPicklists: 'off' } }).deliver(lead));
      expect(err.destinationCode).toBe('FIELD_INTEGRITY_EXCEPTION');
    });

    it('State and Country picklists: text that is no known country is left out with a warning, not refused (FIELD_INTEGRITY_EXCEPTION)', async () => {
      const fake = await start();
      const result = await client(fake).deliver({ ...lead, customer: { ...lead.customer, country: 'Europe' } });
      expect(fake.leads).toHaveLength(1);
      expect(fake.leads[0]!.record).not.toHaveProperty('Country');
      expect(fake.leads[0]!.record).not.toHaveProperty('CountryCode');
      expect(result.warnings).toEqual([
        "Salesforce Lead field Country left out: the lead's country is no known country, and with State and Country/Territory Picklists on Salesforce refuses such a value (FIELD_INTEGRITY_EXCEPTION)",
      ]);
      // The warning names the field, never the value.
      expect(result.warnings!.join()).not.toContain('Europe');
    });

    it('an email longer than Lead.Email (80) is left out with a warning, not cut into another address', async () => {
      const fake = await start();
      const email = `${'a'.repeat(80)}@example.com`;
      const result = await client(fake).deliver({ ...lead, customer: { ...lead.customer, email } });
      expect(fake.leads).toHaveLength(1);
      expect(fake.leads[0]!.record).not.toHaveProperty('Email');
      expect(fake.leads[0]!.record).toMatchObject({ LastName: 'Lovelace', Company: 'Analytical Engines' });
      expect(result.warnings).toEqual(['Salesforce Lead field Email holds 80 characters: the value (92 characters) was left out, not truncated (a cut address is a wrong address)']);
    });

    it('an org without picklists gets Country as received (auto-detected from the describe)', async () => {
      const fake = await start({ stateCountryPicklists: false });
      await client(fake).deliver(lead);
      expect(fake.leads[0]!.record).toMatchObject({ Country: 'GB' });
      expect(fake.leads[0]!.record).not.toHaveProperty('CountryCode');
    });

    it('lengths come from the Lead describe (an org with FirstName 20): longer values are truncated and delivered with a warning', async () => {
      const fake = await start({ fieldLengths: { FirstName: 20 } });
      const c = client(fake);
      const result = await c.deliver({ ...lead, customer: { ...lead.customer, firstName: 'Ярослава'.repeat(40), company: '株式会社'.repeat(100) } });
      expect(fake.leads[0]!.record.FirstName).toBe('Ярослава'.repeat(40).slice(0, 20));
      expect(String(fake.leads[0]!.record.Company)).toHaveLength(255);
      expect(result.warnings).toEqual([
        'Salesforce Lead field FirstName holds 20 characters: the value (320 characters) was truncated',
        'Salesforce Lead field Company holds 255 characters: the value (400 characters) was truncated',
      ]);
      await c.deliver(lead);
      expect(fake.requestsTo('describe-lead')).toHaveLength(1); // read once, cached
    });

    it('a restricted LeadSource picklist: mapped value, else the fallback, else left out, never a dead lead', async () => {
      const fake = await start({ leadSourcePicklist: { restricted: true, values: ['Web', 'Marketplace'] } });
      const mapped = await client(fake, { extra: { leadSource: { map: { SPZA: 'Marketplace' } } } }).deliver(lead);
      expect(fake.leads[0]!.record.LeadSource).toBe('Marketplace');
      expect(mapped.warnings).toBeUndefined();
      const fell = await client(fake, { extra: { leadSource: { fallback: 'Web' } } }).deliver(lead);
      expect(fake.leads[1]!.record.LeadSource).toBe('Web');
      expect(fell.warnings![0]).toMatch(/restricted picklist.*fallback 'Web'/);
      const none = await client(fake).deliver(lead);
      expect(fake.leads[2]!.record).not.toHaveProperty('LeadSource');
      expect(none.warnings![0]).toMatch(/LeadSource left empty/);
    });

    describe('check()', () => {
      it('verifies the external-ID field is External ID and Unique, and says what it read', async () => {
        const fake = await start({ externalIdFields: EXT, leadSourcePicklist: { restricted: true, values: ['Web'] } });
        const r = await client(fake, { extra: { externalIdField: 'LeadRelay_Id__c', leadSource: { map: { AzureMarketplace: 'Web', AzurePortal: 'Web', SPZA: 'Web', TestDrive: 'Web' } } } }).check();
        expect(r.ok).toBe(true);
        expect(r.warnings).toBeUndefined();
        expect(r.message).toMatch(/upserted on LeadRelay_Id__c \(External ID, Unique\)/);
        expect(r.message).toMatch(/CountryCode/);
        expect(r.message).toMatch(/FirstName 40, LastName 80, Company 255/);
        expect(fake.leads).toHaveLength(0);
      });

      it('fails on a missing or non-External-ID field, warns when it is not Unique or not configured', async () => {
        const fake = await start({ externalIdFields: { NotExt__c: { externalId: false }, NotUnique__c: { unique: false } } });
        const missing = await client(fake, { extra: { externalIdField: 'Missing__c' } }).check();
        expect(missing.ok).toBe(false);
        expect(missing.remediation).toMatch(/Object Manager → Lead → Fields & Relationships → New → Text/);
        const notExt = await client(fake, { extra: { externalIdField: 'NotExt__c' } }).check();
        expect(notExt.ok).toBe(false);
        expect(notExt.message).toMatch(/not marked External ID/);
        const notUnique = await client(fake, { extra: { externalIdField: 'NotUnique__c' } }).check();
        expect(notUnique.ok).toBe(true);
        expect(notUnique.warnings![0]).toMatch(/not Unique/);
        const none = await client(fake).check();
        expect(none.ok).toBe(true);
        expect(none.warnings![0]).toMatch(/retry .* may create a second Lead/);
        expect(none.warnings![0]).toMatch(/tick "Unique".*"External ID"/);
      });

      it('reads the restricted LeadSource picklist: warns about unmapped sources, fails on a fallback not in it', async () => {
        const fake = await start({ leadSourcePicklist: { restricted: true, values: ['Web', 'Other'] } });
        const warn = await client(fake).check();
        expect(warn.ok).toBe(true);
        expect(warn.warnings!.join(' ')).toMatch(/restricted picklist \(values: Web, Other\).*AzureMarketplace, AzurePortal, SPZA, TestDrive/);
        const bad = await client(fake, { extra: { leadSource: { fallback: 'Marketplace' } } }).check();
        expect(bad.ok).toBe(false);
        expect(bad.remediation).toMatch(/one of: Web, Other/);
      });
    });
  });
});
