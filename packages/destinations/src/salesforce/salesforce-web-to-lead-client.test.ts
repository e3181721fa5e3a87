import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InvalidConfigurationError, PayloadValidationError, RetryableError, ThrottledError, type FieldValue, type Lead } from '@leadrelay/core';
import { silentLogger } from '@leadrelay/observability';
import { FakeSalesforce } from '../../../../test/fakes/salesforce/index.js';
import type { DestinationContext, RollingQuota } from '../destination.js';
import { MemoryRollingQuota } from '../shared/index.js';
import { salesforce } from './index.js';
import { idSuffix, normaliseOid, salesforceSettings } from './settings.js';
import { SalesforceWebToLeadClient } from './salesforce-web-to-lead-client.js';

const OID = '00D5g000004abcd';
const DAY = 24 * 60 * 60_000;

const lead: Lead = {
  id: 'lead-1',
  source: 'AzureMarketplace',
  action: 'INS',
  offer: 'contoso.widget-pro',
  offerTitle: 'Widget Pro',
  customer: { firstName: 'Zoë', email: 'zoe@example.com', phone: '+1 425 555 0100', country: 'US', title: 'CTO' },
  description: 'Trial started & more',
  createdAt: '2024-05-01T10:00:00.000Z',
  testLead: false,
};

let fake: FakeSalesforce;
let clock: number;
let quotas: { name: string; limit: number; windowMs: number; quota: MemoryRollingQuota }[];

function ctx(): DestinationContext {
  return {
    logger: silentLogger,
    placeholder: '[not provided]',
    rollingQuota(name: string, limit: number, windowMs: number): RollingQuota {
      const quota = new MemoryRollingQuota(limit, windowMs, () => clock);
      quotas.push({ name, limit, windowMs, quota });
      return quota;
    },
  };
}

function settings(over: { oid?: string; url?: string; dailyLimit?: number; fields?: Record<string, FieldValue> } = {}) {
  return {
    ...salesforceSettings.parse({ mode: 'web-to-lead', oid: over.oid ?? OID, url: over.url ?? fake.webToLeadUrl, dailyLimit: over.dailyLimit }),
    id: 'sf', type: 'salesforce', enabled: true, allowInsecure: false, fields: over.fields,
  };
}

function client(over: Parameters<typeof settings>[0] = {}): SalesforceWebToLeadClient {
  return new SalesforceWebToLeadClient(settings(over), ctx(), { timeoutMs: 5_000 });
}

beforeAll(async () => { fake = await FakeSalesforce.start({ orgId: OID }); });
afterAll(async () => { await fake.close(); });
beforeEach(() => {
  fake.reset();
  clock = Date.parse('2024-05-01T12:00:00Z');
  quotas = [];
});

describe('Salesforce Web-to-Lead', () => {
  it('posts the exact documented form: oid, encoding, standard names, placeholders for last name and company', async () => {
    const result = await client().deliver(lead);

    expect(result).toEqual({});
    const [req] = fake.requestsTo('web-to-lead');
    expect(req!.method).toBe('POST');
    expect(req!.path).toBe('/servlet/servlet.WebToLead');
    expect(req!.query).toEqual({ encoding: 'UTF-8' });
    expect(req!.headers['content-type']).toBe('application/x-www-form-urlencoded; charset=UTF-8');
    expect(req!.body).toBe(
      'oid=00D5g000004abcd&encoding=UTF-8&first_name=Zo%C3%AB&last_name=%5Bnot+provided%5D&email=zoe%40example.com'
      + '&phone=%2B1+425+555+0100&country_code=US&company=%5Bnot+provided%5D&title=CTO&description=Trial+started+%26+more'
      + '&lead_source=AzureMarketplace-INS%7Ccontoso.widget-pro',
    );
    // The fake applies Salesforce's rules: this lead would really be created.
    expect(fake.webToLead.map((l) => l.outcome)).toEqual(['created']);
  });

  it('adds and overrides fields from `fields:` (custom fields by 15-character id), in place', async () => {
    await client({ fields: { '00N5g00000AbCdE': '{{offer}}', lead_source: 'Marketplace', '00N5g00000XyZwV': true, employees: 50 } }).deliver(lead);

    const [req] = fake.requestsTo('web-to-lead');
    expect(req!.form).toEqual([
      ['oid', OID], ['encoding', 'UTF-8'], ['first_name', 'Zoë'], ['last_name', '[not provided]'], ['email', 'zoe@example.com'],
      ['phone', '+1 425 555 0100'], ['country_code', 'US'], ['company', '[not provided]'], ['title', 'CTO'], ['description', 'Trial started & more'],
      ['lead_source', 'Marketplace'], ['00N5g00000AbCdE', 'contoso.widget-pro'], ['00N5g00000XyZwV', '1'], ['employees', '50'],
    ]);
  });

  it('cuts lead_source to the 255 characters of Lead.LeadSource', async () => {
    await client().deliver({ ...lead, offer: `contoso.${'x'.repeat(400)}` });
    const source = Object.fromEntries(fake.requestsTo('web-to-lead')[0]!.form!).lead_source!;
    expect(source).toHaveLength(255);
    expect(source.startsWith('AzureMarketplace-INS|contoso.xxx')).toBe(true);
  });

  it('counts HTTP 200 as delivered even when Salesforce silently drops the lead (Web-to-Lead never reports failure)', async () => {
    const c = client({ oid: '00D5g000009zzzz' }); // valid format, someone else's org
    await expect(c.deliver(lead)).resolves.toEqual({});
    expect(fake.webToLead[0]).toMatchObject({ outcome: 'dropped', reason: "invalid organization id '00D5g000009zzzz'" });
  });

  describe('dailyLimit in a rolling 24 h', () => {
    it('takes one use per POST from the destination\'s `web-to-lead` quota; the 4th lead of 3 waits until the oldest use is 24 h old', async () => {
      const c = client({ dailyLimit: 3 });
      expect(quotas.map(({ name, limit, windowMs }) => ({ name, limit, windowMs }))).toEqual([{ name: 'web-to-lead', limit: 3, windowMs: DAY }]);
      const first = clock;
      await c.deliver(lead);
      clock += 60_000;
      await c.deliver(lead);
      clock += 60_000;
      await c.deliver(lead);
      clock += 5 * 60_000;

      const err = await c.deliver(lead).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ThrottledError);
      expect((err as ThrottledError).retryAfterMs).toBe(first + DAY - clock);
      expect((err as ThrottledError).destinationCode).toBe('WEB_TO_LEAD_DAILY_LIMIT');
      expect((err as ThrottledError).message).toMatch(/3 requests in the last 24 h/);
      expect(fake.requestsTo('web-to-lead')).toHaveLength(3); // nothing sent beyond the limit

      clock = first + DAY + 1; // the oldest use has left the window
      await expect(c.deliver(lead)).resolves.toEqual({});
      expect(fake.requestsTo('web-to-lead')).toHaveLength(4);
      await expect(c.deliver(lead)).rejects.toBeInstanceOf(ThrottledError); // the 2nd and 3rd are still inside it
    });

    it('never asks to wait longer than 24 h (the engine\'s default maxThrottleWait)', async () => {
      const c = client({ dailyLimit: 1 });
      await c.deliver(lead);
      const err = (await c.deliver(lead).catch((e: unknown) => e)) as ThrottledError;
      expect(err).toBeInstanceOf(ThrottledError);
      expect(err.retryAfterMs).toBeLessThanOrEqual(DAY);
      expect(err.retryAfterMs).toBe(DAY);
    });
  });

  describe('failures', () => {
    it('5xx is transient', async () => {
      fake.inject({ route: 'web-to-lead', answer: { status: 500, text: '<html><body>Internal Server Error</body></html>' } });
      const err = await client().deliver(lead).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RetryableError);
      expect((err as RetryableError).message).toContain('HTTP 500');
      expect((err as RetryableError).message).toContain('Internal Server Error');
    });

    it('503 with Retry-After throttles for that long', async () => {
      fake.inject({ route: 'web-to-lead', answer: { status: 503, text: 'maintenance', headers: { 'retry-after': '120' } } });
      const err = await client().deliver(lead).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ThrottledError);
      expect((err as ThrottledError).retryAfterMs).toBe(120_000);
    });

    it('a reset connection is transient', async () => {
      fake.inject({ route: 'web-to-lead', action: 'reset' });
      const err = await client().deliver(lead).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RetryableError);
      expect((err as RetryableError).message).toMatch(/could not be reached/);
    });

    it('a timeout is transient', async () => {
      fake.inject({ route: 'web-to-lead', action: 'hang' });
      const c = new SalesforceWebToLeadClient(settings(), ctx(), { timeoutMs: 200 });
      await expect(c.deliver(lead)).rejects.toBeInstanceOf(RetryableError);
    });

    it('a redirect is a configuration error and is not followed (following would turn the POST into a GET)', async () => {
      fake.inject({ route: 'web-to-lead', answer: { status: 302, text: '', headers: { location: `${fake.url}/elsewhere` } } });
      const err = await client().deliver(lead).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidConfigurationError);
      expect((err as InvalidConfigurationError).message).toContain('/elsewhere');
      expect((err as InvalidConfigurationError).remediation).toMatch(/servlet\.WebToLead/);
      expect(fake.requests.map((r) => r.path)).toEqual(['/servlet/servlet.WebToLead']);
    });

    it('a 404 (wrong url) is a configuration error', async () => {
      const err = await client({ url: `${fake.url}/servlet/servlet.WebToLeed` }).deliver(lead).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidConfigurationError);
      expect((err as InvalidConfigurationError).remediation).toMatch(/url/);
    });

    it('another 4xx is permanent (classifyHttpFailure)', async () => {
      fake.inject({ route: 'web-to-lead', answer: { status: 400, text: 'Bad Request' } });
      await expect(client().deliver(lead)).rejects.toBeInstanceOf(PayloadValidationError);
    });

    it('a malformed oid is a configuration error before anything is sent or counted', async () => {
      const c = client({ oid: '00X123' });
      const err = await c.deliver(lead).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidConfigurationError);
      expect((err as InvalidConfigurationError).remediation).toMatch(/Company Information/);
      expect(fake.requests).toHaveLength(0);
      expect(await quotas[0]!.quota.remaining()).toBe(500);
    });
  });

  describe('check()', () => {
    it('checks the oid and that the servlet answers, with a GET that carries no oid and creates no lead', async () => {
      const result = await client({ dailyLimit: 3 }).check();
      expect(result.ok).toBe(true);
      expect(result.message).toMatch(/HTTP 200; oid 00D5g000004abcd \(15-character form\); 3 of 3 daily requests left; countries go as ISO codes in country_code/);
      expect(result.warnings![0]).toMatch(/cannot upsert/);
      expect(fake.requests.map((r) => [r.method, r.path, r.body])).toEqual([['GET', '/servlet/servlet.WebToLead', '']]);
      expect(fake.webToLead).toHaveLength(0);
    });

    it('fails on a malformed oid without calling Salesforce', async () => {
      const result = await client({ oid: '00Dshort' }).check();
      expect(result).toMatchObject({ ok: false });
      expect(result.remediation).toMatch(/00D followed by 12 or 15/);
      expect(fake.requests).toHaveLength(0);
    });

    it('fails when the endpoint is unreachable or wrong', async () => {
      const down = await client({ url: 'http://127.0.0.1:1/servlet/servlet.WebToLead' }).check();
      expect(down.ok).toBe(false);
      expect(down.message).toMatch(/could not be reached/);
      const wrong = await client({ url: `${fake.url}/nope` }).check();
      expect(wrong.ok).toBe(false);
      expect(wrong.remediation).toMatch(/url/);
    });
  });

  it('the destination definition picks the Web-to-Lead client for mode web-to-lead', async () => {
    expect(await salesforce.create(settings(), ctx())).toBeInstanceOf(SalesforceWebToLeadClient);
  });
});

describe('Salesforce Web-to-Lead in a real org', () => {
  it('an 18-character oid is sent in the 15-character form generated forms carry (the 18-character one is dropped)', async () => {
    const long = `${OID}${idSuffix(OID)}`;
    expect(long).toHaveLength(18);
    await client({ oid: long }).deliver(lead);
    expect(Object.fromEntries(fake.requestsTo('web-to-lead')[0]!.form!).oid).toBe(OID);
    expect(fake.webToLead.map((l) => l.outcome)).toEqual(['created']);
    expect(normaliseOid(` ${long} `)).toBe(OID);
    expect(normaliseOid(`${OID}ZZZ`)).toBeUndefined();
    const problems: string[] = [];
    salesforce.refine!(settings({ oid: `${OID}ZZZ` }), (path, m) => problems.push(`${path.join('.')}: ${m}`));
    expect(problems.join()).toMatch(/oid: is an 18-character id whose last 3 characters do not match/);
  });

  it('a country name goes as country_code too; with picklists off, country as received', async () => {
    await client().deliver({ ...lead, customer: { ...lead.customer, country: 'Germany' } });
    expect(Object.fromEntries(fake.requestsTo('web-to-lead')[0]!.form!)).toMatchObject({ country_code: 'DE' });
    expect(fake.webToLead.at(-1)!.outcome).toBe('created');
    const off = new SalesforceWebToLeadClient({ ...settings(), countryPicklists: 'off' }, ctx(), { timeoutMs: 5_000 });
    await off.deliver(lead);
    expect(Object.fromEntries(fake.requestsTo('web-to-lead')[1]!.form!)).toMatchObject({ country: 'US' });
    // An org with picklists drops that lead without a word: why `auto` means on for Web-to-Lead.
    expect(fake.webToLead.at(-1)!.outcome).toBe('dropped');
  });

  it('text that is no known country is left out with a warning (an org with picklists would drop the lead silently)', async () => {
    const result = await client().deliver({ ...lead, customer: { ...lead.customer, country: 'Europe' } });
    const form = Object.fromEntries(fake.requestsTo('web-to-lead')[0]!.form!);
    expect(form).not.toHaveProperty('country');
    expect(form).not.toHaveProperty('country_code');
    expect(fake.webToLead.map((l) => l.outcome)).toEqual(['created']);
    expect(result.warnings).toEqual([
      "Salesforce Web-to-Lead field country left out: the lead's country is no known country, and with State and Country/Territory Picklists on Salesforce refuses such a value (FIELD_INTEGRITY_EXCEPTION)",
    ]);
    // With picklists off it goes as received.
    const off = new SalesforceWebToLeadClient({ ...settings(), countryPicklists: 'off' }, ctx(), { timeoutMs: 5_000 });
    expect((await off.deliver({ ...lead, customer: { ...lead.customer, country: 'Europe' } })).warnings).toBeUndefined();
    expect(Object.fromEntries(fake.requestsTo('web-to-lead')[1]!.form!)).toMatchObject({ country: 'Europe' });
  });

  it('an email longer than 80 characters is left out with a warning, not cut into another address', async () => {
    const result = await client().deliver({ ...lead, customer: { ...lead.customer, email: `${'z'.repeat(81)}@example.com` } });
    expect(Object.fromEntries(fake.requestsTo('web-to-lead')[0]!.form!)).not.toHaveProperty('email');
    expect(fake.webToLead.map((l) => l.outcome)).toEqual(['created']);
    expect(result.warnings).toEqual(['Salesforce Web-to-Lead field email holds 80 characters: the value (93 characters) was left out, not truncated (a cut address is a wrong address)']);
  });

  it('values longer than the Lead fields are cut before posting (Web-to-Lead would drop the lead silently), with a warning', async () => {
    const result = await client().deliver({ ...lead, customer: { ...lead.customer, firstName: 'Χ'.repeat(300), title: 't'.repeat(300) } });
    const form = Object.fromEntries(fake.requestsTo('web-to-lead')[0]!.form!);
    expect(form.first_name).toHaveLength(40);
    expect(form.title).toHaveLength(128);
    expect(fake.webToLead.map((l) => l.outcome)).toEqual(['created']);
    expect(result.warnings).toEqual([
      'Salesforce Web-to-Lead field first_name holds 40 characters: the value (300 characters) was truncated',
      'Salesforce Web-to-Lead field title holds 128 characters: the value (300 characters) was truncated',
    ]);
  });
});
