import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { countryCodeOfName, isCountryCode } from '../../../packages/destinations/src/salesforce/salesforce-countries.js';
import { LEAD_FIELDS, REST_ERRORS, type CannedAnswer, type RestError } from './salesforce-wire.js';

/** Which endpoint a request hit. */
export type FakeSalesforceRoute = 'web-to-lead' | 'token' | 'create-lead' | 'upsert-lead' | 'describe-lead' | 'limits' | 'other';

export interface RecordedRequest {
  route: FakeSalesforceRoute;
  method: string;
  /** Path without the query. */
  path: string;
  query: Record<string, string>;
  /** Lower-cased names, as node gives them. */
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Form bodies as ordered pairs (duplicates kept: Microsoft's own test lead sends `encoding` twice). */
  form?: [string, string][];
  json?: unknown;
}

/** One injected fault: answers the next `times` matching requests instead of the normal behaviour. */
export interface FakeSalesforceFault {
  route: FakeSalesforceRoute | 'any';
  /** How many matching requests it answers (default 1). */
  times?: number;
  /** A canned answer (status + JSON body, or a string body sent as text/html). */
  answer?: CannedAnswer | { status: number; text: string; headers?: Record<string, string> };
  /**
   * `reset`: destroy the socket without answering; `hang`: never answer (until `close()`);
   * `reset-after-commit`: save the Lead as usual, then destroy the socket (the answer is lost after the commit,
   * as when a worker dies or a connection drops mid-response).
   */
  action?: 'reset' | 'hang' | 'reset-after-commit';
}

/** A rule a REST create must pass, like a Salesforce validation rule. */
export interface FakeValidationRule {
  /** Returns true when the record violates the rule. */
  violated(record: Record<string, unknown>): boolean;
  message: string;
  field?: string;
}

export interface FakeSalesforceOptions {
  /** Organization id the Web-to-Lead servlet belongs to (15 characters; the 18-character form is accepted too). Default `00D5g000004abcd`. */
  orgId?: string;
  /** Consumer key / secret of the external client app. Defaults `fake-client-id` / `fake-client-secret`. */
  clientId?: string;
  clientSecret?: string;
  /** False = the app has no run-as user (token answers `invalid_grant`). Default true. */
  runAsUser?: boolean;
  /** False = the Web-to-Lead servlet drops every lead silently (Web-to-Lead disabled). Default true. */
  webToLeadEnabled?: boolean;
  /** Web-to-Lead leads created per rolling 24 h before the rest go to Salesforce's hidden pending queue. Default 500. */
  webToLeadDailyLimit?: number;
  /** Web-to-Lead form fields that must be non-empty (e.g. a mandatory picklist); missing = silently dropped. */
  webToLeadRequired?: string[];
  /** Custom REST Lead fields (`Offer__c`) with their lengths, besides the standard ones. */
  customFields?: Record<string, number>;
  /** A Block duplicate rule on Lead.Email for REST creates. Default false. */
  duplicateRuleOnEmail?: boolean;
  validationRules?: FakeValidationRule[];
  /** False = describe says the run-as user cannot create leads. Default true. */
  leadCreateable?: boolean;
  /** Clock for the Web-to-Lead daily limit. Default Date.now. */
  now?: () => number;
  /**
   * State and Country/Territory Picklists (on by default in new orgs): Lead gains CountryCode/StateCode picklists and
   * text Country only takes a country's integration value (its name); an ISO code there, or text that is no
   * country's name (`Europe`), fails with FIELD_INTEGRITY_EXCEPTION on REST and silently drops the lead on
   * Web-to-Lead (vendor-behaviours S10/S11). Default true.
   */
  stateCountryPicklists?: boolean;
  /** Field lengths the org's admin changed (e.g. `{ FirstName: 20 }`); describe reports them and saves enforce them. */
  fieldLengths?: Record<string, number>;
  /** Custom text fields (length 80) for upserts, with their External ID / Unique flags, e.g. `{ LeadRelay_Id__c: { unique: true } }`. */
  externalIdFields?: Record<string, { externalId?: boolean; unique?: boolean }>;
  /** The LeadSource picklist; `restricted` refuses other values with INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST. Default unrestricted. */
  leadSourcePicklist?: { values: string[]; restricted: boolean };
  /** Whether Web-to-Lead takes an 18-character oid (unconfirmed; generated forms carry 15). Default false: dropped. */
  acceptsLongOid?: boolean;
}

export interface WebToLeadOutcome {
  fields: Record<string, string>;
  /** `created`, `pending` (over the daily limit: Salesforce's hidden queue), or why Salesforce silently dropped it. */
  outcome: 'created' | 'pending' | 'dropped';
  reason?: string;
  at: number;
}

export interface RestLead {
  id: string;
  record: Record<string, unknown>;
}

/**
 * A local Salesforce speaking the wire protocol LeadRelay uses (Salesforce Web-to-Lead and REST API): the Web-to-Lead servlet
 * (always 200, failures are silent and recorded in `webToLead`), the OAuth 2.0 client-credentials token
 * endpoint, and REST `sobjects/Lead` create / describe plus `limits`. Every request is recorded;
 * `inject()` queues faults (canned errors, socket resets, hangs); `expireSessions()` makes every issued
 * token answer 401 INVALID_SESSION_ID like an expired session.
 */
export class FakeSalesforce {
  readonly requests: RecordedRequest[] = [];
  readonly webToLead: WebToLeadOutcome[] = [];
  readonly leads: RestLead[] = [];
  readonly orgId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Tokens issued so far (each successful token request adds one). */
  readonly issuedTokens: string[] = [];
  private readonly validTokens = new Set<string>();
  private readonly faults: (FakeSalesforceFault & { left: number })[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly hung: ServerResponse[] = [];
  /** Answers to drop after the commit (`reset-after-commit`). */
  private readonly loseAnswer = new WeakSet<ServerResponse>();
  private readonly now: () => number;
  private server?: Server;
  private port = 0;
  private leadCounter = 0;

  constructor(readonly options: FakeSalesforceOptions = {}) {
    this.orgId = options.orgId ?? '00D5g000004abcd';
    this.clientId = options.clientId ?? 'fake-client-id';
    this.clientSecret = options.clientSecret ?? 'fake-client-secret';
    this.now = options.now ?? Date.now;
  }

  static async start(options: FakeSalesforceOptions = {}): Promise<FakeSalesforce> {
    const fake = new FakeSalesforce(options);
    await fake.listen();
    return fake;
  }

  /** Base URL: the login URL, the instance URL and the Web-to-Lead host at once. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The Web-to-Lead servlet URL, as in the default `url` (docs/configuration.md → `type: salesforce`). */
  get webToLeadUrl(): string {
    return `${this.url}/servlet/servlet.WebToLead?encoding=UTF-8`;
  }

  /** Requests that hit one route. */
  requestsTo(route: FakeSalesforceRoute): RecordedRequest[] {
    return this.requests.filter((r) => r.route === route);
  }

  inject(fault: FakeSalesforceFault): void {
    this.faults.push({ ...fault, left: fault.times ?? 1 });
  }

  /** Drops pending faults. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Forgets recorded requests, leads and pending faults (tokens stay valid), so one fake can serve several tests. */
  reset(): void {
    this.requests.length = 0;
    this.webToLead.length = 0;
    this.leads.length = 0;
    this.faults.length = 0;
  }

  /** Every issued token now answers 401 INVALID_SESSION_ID (a session timeout or a revoked app). */
  expireSessions(): void {
    this.validTokens.clear();
  }

  async listen(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.hung.length = 0;
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const u = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    const route = routeOf(method, u.pathname);
    const recorded: RecordedRequest = {
      route, method, path: u.pathname, query: Object.fromEntries(u.searchParams), headers: { ...req.headers }, body,
    };
    const type = String(req.headers['content-type'] ?? '');
    if (type.startsWith('application/x-www-form-urlencoded')) recorded.form = [...new URLSearchParams(body)];
    if (type.startsWith('application/json') && body) {
      try { recorded.json = JSON.parse(body); } catch { /* recorded as text */ }
    }
    this.requests.push(recorded);

    const fault = this.faults.find((f) => f.left > 0 && (f.route === 'any' || f.route === route));
    if (fault) {
      fault.left--;
      if (fault.action === 'reset') { req.socket.destroy(); return; }
      if (fault.action === 'hang') { this.hung.push(res); return; }
      if (fault.action === 'reset-after-commit') {
        this.loseAnswer.add(res);
      }
      if (fault.answer) {
        if ('text' in fault.answer) send(res, fault.answer.status, fault.answer.text, 'text/html;charset=UTF-8', fault.answer.headers);
        else json(res, fault.answer);
        return;
      }
    }

    switch (route) {
      case 'web-to-lead': return this.webToLeadServlet(method, recorded, res);
      case 'token': return this.token(recorded, res);
      case 'create-lead':
      case 'upsert-lead':
      case 'describe-lead':
      case 'limits': return this.rest(route, recorded, req, res);
      default: return json(res, REST_ERRORS.NOT_FOUND);
    }
  }

  /** Always 200, as Salesforce's Web-to-Lead servlet answers whether or not a lead was created: whatever went wrong is only visible in `webToLead`. */
  private webToLeadServlet(method: string, r: RecordedRequest, res: ServerResponse): void {
    const page = '<html><head><meta http-equiv="Refresh" content="0; URL=about:blank"></head><body></body></html>';
    if (method === 'POST') {
      const fields: Record<string, string> = {};
      for (const [k, v] of r.form ?? []) if (!(k in fields)) fields[k] = v;
      this.webToLead.push({ fields, at: this.now(), ...this.webToLeadOutcome(fields) });
    }
    send(res, 200, method === 'HEAD' ? '' : page, 'text/html;charset=UTF-8');
  }

  private webToLeadOutcome(f: Record<string, string>): { outcome: WebToLeadOutcome['outcome']; reason?: string } {
    if (this.options.webToLeadEnabled === false) return { outcome: 'dropped', reason: 'Web-to-Lead is disabled' };
    const oid = f.oid ?? '';
    if (oid.slice(0, 15) !== this.orgId.slice(0, 15)) return { outcome: 'dropped', reason: `invalid organization id '${oid}'` };
    if (oid.length !== 15 && !this.options.acceptsLongOid) return { outcome: 'dropped', reason: `organization id '${oid}' is not the 15-character form` };
    const country = countryProblem(f.country, f.country_code, this.options.stateCountryPicklists !== false);
    if (country) return { outcome: 'dropped', reason: `FIELD_INTEGRITY_EXCEPTION: ${country}` };
    const lengths = this.leadFields();
    const formNames: Record<string, string> = { first_name: 'FirstName', last_name: 'LastName', email: 'Email', phone: 'Phone', title: 'Title', company: 'Company', country: 'Country', description: 'Description', lead_source: 'LeadSource', city: 'City', state: 'State', zip: 'PostalCode' };
    for (const [name, api] of Object.entries(formNames)) {
      const max = lengths[api]?.length ?? 0;
      if (max > 0 && (f[name]?.length ?? 0) > max) return { outcome: 'dropped', reason: `STRING_TOO_LONG: ${api} (max length=${max})` };
    }
    const required = ['last_name', 'company', ...(this.options.webToLeadRequired ?? [])];
    const missing = required.filter((k) => !f[k]?.trim());
    if (missing.length) return { outcome: 'dropped', reason: `required fields missing: ${missing.join(', ')}` };
    const since = this.now() - 86_400_000;
    const created = this.webToLead.filter((l) => l.outcome === 'created' && l.at > since).length;
    if (created >= (this.options.webToLeadDailyLimit ?? 500)) return { outcome: 'pending', reason: 'daily Web-to-Lead limit reached' };
    return { outcome: 'created' };
  }

  private token(r: RecordedRequest, res: ServerResponse): void {
    const p = Object.fromEntries(r.form ?? []);
    const err = (error: string, description: string) => json(res, { status: 400, body: { error, error_description: description } });
    if (p.grant_type !== 'client_credentials') return err('unsupported_grant_type', 'grant type not supported');
    if (p.client_id !== this.clientId) return err('invalid_client_id', 'client identifier invalid');
    if (p.client_secret !== this.clientSecret) return err('invalid_client', 'invalid client credentials');
    if (this.options.runAsUser === false) return err('invalid_grant', 'no client credentials user enabled');
    const token = `${this.orgId}!AR${randomBytes(24).toString('base64url')}`;
    this.issuedTokens.push(token);
    this.validTokens.add(token);
    json(res, {
      status: 200,
      body: {
        access_token: token, signature: randomBytes(32).toString('base64'), scope: 'api', instance_url: this.url,
        id: `${this.url}/id/${this.orgId}AAA/0055g00000AbCdEAAV`, token_type: 'Bearer', issued_at: String(this.now()),
      },
    });
  }

  private rest(route: FakeSalesforceRoute, r: RecordedRequest, req: IncomingMessage, res: ServerResponse): void {
    const version = /^\/services\/data\/v(\d+\.\d)\//.exec(r.path)?.[1];
    if (!version || Number(version) < 20 || Number(version) > 64) return json(res, REST_ERRORS.NOT_FOUND);
    const auth = String(req.headers.authorization ?? '');
    if (!auth.startsWith('Bearer ') || !this.validTokens.has(auth.slice(7))) return json(res, REST_ERRORS.INVALID_SESSION_ID);

    if (route === 'limits') {
      return json(res, { status: 200, body: { DailyApiRequests: { Max: 15000, Remaining: 15000 - this.requests.filter((x) => x.route !== 'token' && x.route !== 'web-to-lead').length } } });
    }
    if (route === 'describe-lead') return json(res, { status: 200, body: this.describeLead() });
    if (!r.json || typeof r.json !== 'object' || Array.isArray(r.json)) {
      return json(res, { status: 400, body: [{ message: 'Unexpected character while parsing the JSON body', errorCode: 'JSON_PARSER_ERROR' }] });
    }
    const record = r.json as Record<string, unknown>;
    const lose = () => { req.socket.destroy(); };
    if (route === 'upsert-lead') {
      // PATCH /sobjects/Lead/<field>/<value>: the value comes from the path, never the body.
      const [, field, value] = /\/sobjects\/Lead\/([^/]+)\/(.+)$/.exec(r.path) ?? [];
      const ext = this.options.externalIdFields?.[field ?? ''];
      if (!field || !value || !ext || ext.externalId === false) {
        return json(res, { status: 404, body: [{ errorCode: 'NOT_FOUND', message: `Provided external ID field does not exist or is not accessible: ${field ?? ''}` }] });
      }
      if (field in record) return json(res, { status: 400, body: [{ errorCode: 'INVALID_FIELD', message: `The external ID field '${field}' must not be in the request body`, fields: [field] }] });
      const key = decodeURIComponent(value);
      const matches = this.leads.filter((l) => l.record[field] === key);
      if (matches.length > 1) {
        return json(res, { status: 300, body: matches.map((m) => `/services/data/v${version}/sobjects/Lead/${m.id}`) });
      }
      const merged = { ...(matches[0]?.record ?? {}), ...record, [field]: key };
      const errors = this.validate(merged, matches[0]);
      if (errors.length) return json(res, { status: 400, body: errors });
      if (matches[0]) {
        matches[0].record = merged;
        if (this.loseAnswer.has(res)) return lose();
        // API v46.0 and later answer an update with 200 and created:false; earlier versions with 204 and no body.
        if (Number(version) < 46) { res.writeHead(204); return void res.end(); }
        return json(res, { status: 200, body: { id: matches[0].id, success: true, errors: [], created: false } });
      }
      const id = `00Q5g${String(++this.leadCounter).padStart(10, '0')}AAA`;
      this.leads.push({ id, record: merged });
      if (this.loseAnswer.has(res)) return lose();
      return json(res, { status: 201, body: { id, success: true, errors: [], created: true }, headers: { location: `/services/data/v${version}/sobjects/Lead/${id}` } });
    }
    const errors = this.validate(record);
    if (errors.length) return json(res, { status: 400, body: errors });
    const id = `00Q5g${String(++this.leadCounter).padStart(10, '0')}AAA`;
    this.leads.push({ id, record });
    if (this.loseAnswer.has(res)) return lose();
    json(res, { status: 201, body: { id, success: true, errors: [] }, headers: { location: `/services/data/v${version}/sobjects/Lead/${id}` } });
  }

  /** Lead fields with their lengths: the standard ones, the admin's changes, custom and external-ID fields. */
  private leadFields(): Record<string, { label: string; length: number }> {
    const fields: Record<string, { label: string; length: number }> = { ...LEAD_FIELDS };
    if (this.options.stateCountryPicklists !== false) {
      fields.CountryCode = { label: 'Country Code', length: 10 };
      fields.StateCode = { label: 'State Code', length: 10 };
    }
    for (const [name, length] of Object.entries(this.options.customFields ?? {})) fields[name] = { label: name, length };
    for (const name of Object.keys(this.options.externalIdFields ?? {})) fields[name] = { label: name, length: 80 };
    for (const [name, length] of Object.entries(this.options.fieldLengths ?? {})) if (fields[name]) fields[name] = { ...fields[name]!, length };
    return fields;
  }

  private describeLead(): Record<string, unknown> {
    const picklist = this.options.leadSourcePicklist;
    const fields = Object.entries(this.leadFields()).map(([name, f]) => {
      const ext = this.options.externalIdFields?.[name];
      const base = { name, label: f.label, length: f.length, createable: true, type: f.length > 0 ? 'string' : 'boolean', externalId: !!ext && ext.externalId !== false, unique: !!ext?.unique };
      if (name === 'LeadSource') {
        return { ...base, type: 'picklist', restrictedPicklist: !!picklist?.restricted, picklistValues: (picklist?.values ?? ['Web', 'Phone Inquiry', 'Partner Referral', 'Purchased List', 'Other']).map((value) => ({ value, label: value, active: true })) };
      }
      if (name === 'CountryCode') return { ...base, type: 'picklist', restrictedPicklist: true, picklistValues: [] };
      return base;
    });
    return { name: 'Lead', label: 'Lead', createable: this.options.leadCreateable !== false, fields };
  }

  /** Salesforce's save order, simplified: field existence, required fields, lengths, validation rules, duplicate rules. */
  private validate(record: Record<string, unknown>, updating?: RestLead): RestError[] {
    const known = this.leadFields();
    for (const name of Object.keys(record)) {
      if (!(name in known)) return [{ message: `No such column '${name}' on sobject of type Lead`, errorCode: 'INVALID_FIELD' }];
    }
    const missing = ['LastName', 'Company'].filter((k) => typeof record[k] !== 'string' || !(record[k] as string).trim());
    if (missing.length) return [{ message: `Required fields are missing: [${missing.join(', ')}]`, errorCode: 'REQUIRED_FIELD_MISSING', fields: missing }];
    for (const [name, value] of Object.entries(record)) {
      const length = known[name]?.length ?? 0;
      if (length > 0 && typeof value === 'string' && value.length > length) {
        return [{ message: `${known[name]?.label ?? name}: data value too large: ${value} (max length=${length})`, errorCode: 'STRING_TOO_LONG', fields: [name] }];
      }
    }
    const country = countryProblem(record.Country, record.CountryCode, this.options.stateCountryPicklists !== false);
    if (country) return [{ message: country, errorCode: 'FIELD_INTEGRITY_EXCEPTION', fields: ['Country'] }];
    const picklist = this.options.leadSourcePicklist;
    if (picklist?.restricted && typeof record.LeadSource === 'string' && !picklist.values.includes(record.LeadSource)) {
      return [{ message: `Lead Source: bad value for restricted picklist field: ${record.LeadSource}`, errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', fields: ['LeadSource'] }];
    }
    for (const rule of this.options.validationRules ?? []) {
      if (rule.violated(record)) return [{ message: rule.message, errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', fields: rule.field ? [rule.field] : [] }];
    }
    if (this.options.duplicateRuleOnEmail && record.Email && this.leads.some((l) => l !== updating && l.record.Email === record.Email)) {
      return REST_ERRORS.DUPLICATES_DETECTED.body as RestError[];
    }
    return [];
  }
}

function routeOf(method: string, path: string): FakeSalesforceRoute {
  if (path === '/servlet/servlet.WebToLead') return 'web-to-lead';
  if (path === '/services/oauth2/token' && method === 'POST') return 'token';
  if (/^\/services\/data\/v[^/]+\/sobjects\/Lead\/?$/.test(path) && method === 'POST') return 'create-lead';
  if (/^\/services\/data\/v[^/]+\/sobjects\/Lead\/describe\/?$/.test(path) && method === 'GET') return 'describe-lead';
  if (/^\/services\/data\/v[^/]+\/sobjects\/Lead\/[A-Za-z][A-Za-z0-9_]*__c\/.+$/.test(path) && method === 'PATCH') return 'upsert-lead';
  if (/^\/services\/data\/v[^/]+\/limits\/?$/.test(path) && method === 'GET') return 'limits';
  return 'other';
}

const PICKLIST_COUNTRY_TEXT = "There's a problem with this country, even though it may appear correct. Please select a country/territory from the list of valid countries.";

/**
 * With State and Country/Territory Picklists on, Country holds a country's integration value (its name) and
 * CountryCode its ISO code; anything else, or a pair that disagrees, is FIELD_INTEGRITY_EXCEPTION.
 */
function countryProblem(country: unknown, code: unknown, picklists: boolean): string | undefined {
  if (!picklists) return undefined;
  if (code !== undefined && (typeof code !== 'string' || !isCountryCode(code))) return PICKLIST_COUNTRY_TEXT;
  if (country === undefined || country === null || country === '') return undefined;
  const named = typeof country === 'string' && !/^[A-Za-z]{2,3}$/.test(country.trim()) ? countryCodeOfName(country) : undefined;
  if (!named) return PICKLIST_COUNTRY_TEXT;
  if (code !== undefined && code !== named) return PICKLIST_COUNTRY_TEXT;
  return undefined;
}

function send(res: ServerResponse, status: number, text: string, type: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, ...headers });
  res.end(text);
}

function json(res: ServerResponse, a: CannedAnswer): void {
  send(res, a.status, JSON.stringify(a.body), 'application/json;charset=UTF-8', a.headers);
}
