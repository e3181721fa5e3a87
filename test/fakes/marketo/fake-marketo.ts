import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeMarketoLeadStore, type FakeMarketoLead } from './fake-marketo-store.js';

/**
 * A Marketo instance on loopback speaking the real wire protocol (Adobe `authentication.md`,
 * `error-codes.md`, `leads.md`): an Identity service issuing bearer
 * tokens, and the lead REST endpoints answering HTTP 200 with `{requestId, success, result|errors}`.
 *
 * Where Adobe's docs do not say which code a situation gets, the fake picks the closest documented
 * one (marked "assumed" below), so tests exercise the documented classes of failure.
 */

/** The instance-wide limits Marketo enforces; a limit left out is not enforced. */
export interface FakeMarketoLimits {
  /** Calls per rolling window before 606 (real: 100). */
  callsPerWindow?: number;
  /** The rolling window (real: 20 s). */
  windowMs?: number;
  /** Calls running at once before 615 (real: 10). */
  maxConcurrent?: number;
  /** Records per sync/push call (real: 300). */
  maxBatchSize?: number;
  /** Calls per day before 607 (real: 50,000 by default). */
  dailyQuota?: number;
}

export const MARKETO_REAL_LIMITS: Required<FakeMarketoLimits> = {
  callsPerWindow: 100, windowMs: 20_000, maxConcurrent: 10, maxBatchSize: 300, dailyQuota: 50_000,
};

/** An injected failure for the next call(s). */
export type FakeMarketoFault =
  /** HTTP 200 `{success:false, errors:[{code, message}]}` (message defaults to Adobe's text for the code). */
  | { code: string; message?: string }
  /** Any HTTP status with an optional body (object = JSON). */
  | { httpStatus: number; body?: string | object; headers?: Record<string, string> }
  /** The connection is destroyed without a reply (a network error for the client). */
  | { drop: true }
  /** The reply comes this much later, then the call is handled normally (or hits the next fault). */
  | { delayMs: number };

/** Skip one record with a record-level reason (result `status: "skipped"`). */
export interface FakeMarketoSkipRule {
  match: (record: Record<string, unknown>, operation: 'sync' | 'push' | 'form') => boolean;
  code: string;
  message: string;
}

export interface FakeMarketoOptions {
  /** clientId -> clientSecret of the custom services (default one: FakeMarketo.CLIENT_ID / CLIENT_SECRET). */
  clients?: Record<string, string>;
  /** Lifetime of a new token (default 3600 s; the first answer says 3599, like Marketo). */
  tokenTtlSeconds?: number;
  /** Limits enforced (default only maxBatchSize 300); pass MARKETO_REAL_LIMITS for all of them. */
  limits?: FakeMarketoLimits;
  /** Clock for tokens, the rolling window and timestamps (default Date.now). */
  now?: () => number;
  /** Lead fields the instance has (describe; unknown fields are skipped with 1006). Default: standard fields. */
  leadFields?: string[];
  /** Program names push accepts (default: any). */
  programs?: string[];
  /**
   * Forms submitForm accepts, with the REST names of the lead fields on each (default: any form id, any
   * lead field). A field not on the form skips the record with 1006. The Asset API
   * (`/rest/asset/v1/form/{id}/fields.json`) lists them by their SOAP names (`FirstName`), as Marketo does;
   * a name that is no lead field (e.g. `Profiling`) is listed as it is.
   */
  forms?: Record<number, string[]>;
  /** Text lengths by REST field name, overriding the default (255 for strings, as Marketo's `describe` says). */
  fieldLengths?: Record<string, number>;
  /**
   * What a string longer than its field's length does (undocumented by Adobe): `reject` (default, the
   * pessimistic reading) skips the record with 1003; `truncate` stores it cut to the length.
   */
  overLongValues?: 'reject' | 'truncate';
  /** Records per submitForm call (assumed 1: Adobe documents "a single object record"). */
  formMaxRecords?: number;
  /** Delay before every REST reply (default 0). */
  latencyMs?: number;
  /**
   * Adobe's warning that concurrent upserts with the same key can create duplicates (`leads.md`): the
   * lookup happens when the call arrives, the write when it completes, so two calls in flight with one
   * email create two persons. The same email twice in one call is undocumented; the fake takes the
   * pessimistic reading and creates two there too. Default true, as a real instance; false files each
   * record against the database as it is at write time.
   */
  concurrentUpsertDuplicates?: boolean;
  /** Keep every call (with bodies) in `calls` (default true; benchmarks turn it off). */
  recordCalls?: boolean;
}

export interface FakeMarketoCall {
  kind: 'identity' | 'rest';
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body when there was one. */
  body: unknown;
  status: number;
  /** The JSON answered (undefined for dropped connections). */
  response: unknown;
  at: number;
  /** When the reply was sent (undefined while in flight or for dropped connections). */
  doneAt?: number;
}

/** Adobe's message for each response-level code. */
export const MARKETO_ERROR_MESSAGES: Record<string, string> = {
  '502': 'Bad Gateway',
  '601': 'Access token invalid',
  '602': 'Access token expired',
  '603': 'Access denied',
  '604': 'Request time-out',
  '605': 'HTTP Method not supported',
  '606': "Max rate limit '100' exceeded with in '20' secs",
  '607': 'Daily quota reached',
  '608': 'API Temporarily Unavailable',
  '609': 'Invalid JSON',
  '610': 'Requested resource not found',
  '611': 'System error',
  '612': 'Invalid Content Type',
  '613': 'Invalid Multipart Request',
  '614': 'Invalid Subscription',
  '615': 'Concurrent access limit reached',
  '701': 'cannot be blank',
  '709': 'Business Rule Violation',
  '713': 'Transient Error',
  '1003': 'Invalid data',
  '1006': 'Field not found',
  '1013': 'Object not found',
};

export const STANDARD_LEAD_FIELDS = [
  'id', 'email', 'firstName', 'lastName', 'middleName', 'salutation', 'phone', 'mobilePhone', 'fax', 'title', 'company',
  'country', 'state', 'city', 'postalCode', 'address', 'website', 'industry', 'leadSource', 'leadStatus', 'leadScore',
  'numberOfEmployees', 'annualRevenue', 'unsubscribed', 'createdAt', 'updatedAt',
];

const READ_ONLY_FIELDS = new Set(['id', 'createdAt', 'updatedAt']);
/** Text areas among the standard fields (Marketo: up to 30,000 bytes; describe gives no 255 for them). */
const TEXT_AREA_FIELDS = new Set(['address']);
/** SOAP names that are not simply the REST name capitalised (Marketo's describe: rest `address`, soap `Street`). */
const SOAP_NAMES: Record<string, string> = { address: 'Street' };

/** The SOAP-style name the Asset API uses for a lead field. */
export function marketoSoapName(restName: string): string {
  return SOAP_NAMES[restName] ?? restName[0]!.toUpperCase() + restName.slice(1);
}
const ONE_MB = 1024 * 1024;
const ASCII = /^[\x00-\x7F]*$/;

interface TokenState { clientId: string; expiresAt: number; revoked: boolean }
interface QueuedFault { fault: FakeMarketoFault; remaining: number }
type Operation = 'sync' | 'push' | 'form';
type RecordOutcome = { id: number; status: 'created' | 'updated' } | { status: 'skipped'; reasons: { code: string; message: string }[] };

export class FakeMarketo {
  static readonly CLIENT_ID = 'leadrelay-custom-service';
  static readonly CLIENT_SECRET = 'fake-marketo-client-secret-9f3b';

  /** Every call, in arrival order (when `recordCalls`). */
  readonly calls: FakeMarketoCall[] = [];
  readonly store = new FakeMarketoLeadStore();
  /** Counters kept even when calls are not recorded. */
  readonly stats = { identityCalls: 0, restCalls: 0, acceptedCalls: 0, recordsWritten: 0, maxInFlight: 0 };

  private readonly clients: Map<string, string>;
  private readonly tokens = new Map<string, TokenState>();
  private readonly currentToken = new Map<string, string>();
  private readonly faults: Record<'rest' | 'identity', QueuedFault[]> = { rest: [], identity: [] };
  private readonly skipRules: FakeMarketoSkipRule[] = [];
  private readonly window: number[] = [];
  private limits: FakeMarketoLimits;
  private dailyCalls = 0;
  private inFlightCount = 0;
  private latencyMs: number;
  private accessDenied = false;
  private gate?: Promise<void>;
  private requestSeq = 0;
  private readonly sockets = new Set<import('node:net').Socket>();

  private constructor(private readonly server: Server, readonly port: number, private readonly options: FakeMarketoOptions) {
    this.clients = new Map(Object.entries(options.clients ?? { [FakeMarketo.CLIENT_ID]: FakeMarketo.CLIENT_SECRET }));
    this.limits = options.limits ?? { maxBatchSize: MARKETO_REAL_LIMITS.maxBatchSize };
    this.latencyMs = options.latencyMs ?? 0;
  }

  static async start(options: FakeMarketoOptions = {}): Promise<FakeMarketo> {
    let fake!: FakeMarketo;
    const server = createServer((req, res) => { void fake.handle(req, res); });
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    fake = new FakeMarketo(server, (server.address() as AddressInfo).port, options);
    server.on('connection', (s) => { fake.sockets.add(s); s.on('close', () => fake.sockets.delete(s)); });
    return fake;
  }

  /** The REST base (`restUrl`); Identity lives at restUrl + /identity like on a real instance. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get identityUrl(): string {
    return `${this.url}/identity`;
  }

  get clientId(): string {
    return [...this.clients.keys()][0] ?? FakeMarketo.CLIENT_ID;
  }

  get clientSecret(): string {
    return [...this.clients.values()][0] ?? FakeMarketo.CLIENT_SECRET;
  }

  /** REST calls running right now. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  async stop(): Promise<void> {
    this.gate = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  // ---- controls -----------------------------------------------------------------------------

  /** The next `count` calls to REST (or Identity) answer with `fault` instead of their normal reply. */
  failNext(count: number, fault: FakeMarketoFault, target: 'rest' | 'identity' = 'rest'): void {
    this.faults[target].push({ fault, remaining: count });
  }

  clearFaults(): void {
    this.faults.rest.length = 0;
    this.faults.identity.length = 0;
  }

  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  setLimits(limits: FakeMarketoLimits): void {
    this.limits = limits;
  }

  resetDailyQuota(): void {
    this.dailyCalls = 0;
  }

  /** Forget the rolling window (as if 20 s passed with no calls). */
  resetRateWindow(): void {
    this.window.length = 0;
  }

  /** Holds every accepted REST call before it is processed until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    this.gate = gate;
    return () => { if (this.gate === gate) this.gate = undefined; release(); };
  }

  /** Resolves once at least `n` REST calls are in flight (held or slow). */
  async waitForInFlight(n: number, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlightCount < n) {
      if (Date.now() > deadline) throw new Error(`only ${this.inFlightCount} of ${n} calls arrived`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Every issued token now answers 602 (expired); Identity then issues new ones. */
  expireTokens(): void {
    const now = this.now();
    for (const t of this.tokens.values()) t.expiresAt = Math.min(t.expiresAt, now);
  }

  /** Every issued token now answers 601 (invalid). */
  revokeTokens(): void {
    for (const t of this.tokens.values()) t.revoked = true;
    this.currentToken.clear();
  }

  /** 603 Access denied for every REST call (API user lacks permissions / IP not allowlisted). */
  denyAccess(denied = true): void {
    this.accessDenied = denied;
  }

  addClient(clientId: string, clientSecret: string): void {
    this.clients.set(clientId, clientSecret);
  }

  removeClient(clientId: string): void {
    this.clients.delete(clientId);
  }

  /** Skips records matching the rule with its record-level code; returns a function removing it. */
  addSkipRule(rule: FakeMarketoSkipRule): () => void {
    this.skipRules.push(rule);
    return () => {
      const i = this.skipRules.indexOf(rule);
      if (i >= 0) this.skipRules.splice(i, 1);
    };
  }

  /** Skips any record with this email (case-insensitive) with `code` / `message`. */
  rejectEmail(email: string, code = '1003', message = MARKETO_ERROR_MESSAGES[code] ?? 'Invalid data'): () => void {
    const wanted = email.toLowerCase();
    return this.addSkipRule({ match: (r) => typeof r.email === 'string' && r.email.toLowerCase() === wanted, code, message });
  }

  clearSkipRules(): void {
    this.skipRules.length = 0;
  }

  // ---- inspection ---------------------------------------------------------------------------

  /** Stored records (one per person unless duplicates were created). */
  get leads(): FakeMarketoLead[] {
    return this.store.all();
  }

  get uniqueLeadCount(): number {
    return this.store.size;
  }

  findLeads(field: string, value: unknown): FakeMarketoLead[] {
    return this.store.find(field, value);
  }

  leadByEmail(email: string): FakeMarketoLead | undefined {
    return this.store.find('email', email)[0];
  }

  /** Lookup values stored on more than one record. */
  duplicates(field = 'email'): { value: string; ids: number[] }[] {
    return this.store.duplicates(field);
  }

  /** Recorded REST calls to one path (e.g. '/rest/v1/leads.json'). */
  callsTo(path: string): FakeMarketoCall[] {
    return this.calls.filter((c) => c.path === path);
  }

  get identityCalls(): FakeMarketoCall[] {
    return this.calls.filter((c) => c.kind === 'identity');
  }

  get restCalls(): FakeMarketoCall[] {
    return this.calls.filter((c) => c.kind === 'rest');
  }

  resetCalls(): void {
    this.calls.length = 0;
    for (const k of Object.keys(this.stats) as (keyof typeof this.stats)[]) this.stats[k] = 0;
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const isIdentity = url.pathname.startsWith('/identity/');
    const call: FakeMarketoCall = {
      kind: isIdentity ? 'identity' : 'rest', method: req.method ?? 'GET', path: url.pathname,
      query: Object.fromEntries(url.searchParams), headers: req.headers, body: undefined, status: 0, response: undefined, at: this.now(),
    };
    if (this.options.recordCalls !== false) this.calls.push(call);
    if (isIdentity) this.stats.identityCalls++;
    else this.stats.restCalls++;

    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size <= ONE_MB + 1) chunks.push(chunk as Buffer);
    }
    const raw = Buffer.concat(chunks).toString('utf8');

    const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      call.status = status;
      call.response = body;
      call.doneAt = this.now();
      if (res.destroyed) return;
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': typeof body === 'string' ? 'text/html' : 'application/json;charset=UTF-8', ...headers });
      res.end(text);
    };

    try {
      if ((req.url ?? '').length > 8 * 1024) return reply(414, '<html><body><h1>414 Request-URI Too Long</h1></body></html>');
      if (size > ONE_MB) return reply(413, '<html><body><h1>413 Request Entity Too Large</h1></body></html>');

      if (!isIdentity && !url.pathname.startsWith('/rest/')) return reply(404, '<html><body><h1>404 Not Found</h1></body></html>');

      // Injected faults come first: they stand for whatever went wrong in front of the handler.
      for (;;) {
        const fault = this.takeFault(isIdentity ? 'identity' : 'rest');
        if (!fault) break;
        if ('delayMs' in fault) {
          await sleep(fault.delayMs);
          continue;
        }
        if ('drop' in fault) {
          req.socket.destroy();
          return;
        }
        if ('httpStatus' in fault) return reply(fault.httpStatus, fault.body ?? '', fault.headers);
        return reply(200, this.failure(fault.code, fault.message));
      }

      if (isIdentity) return this.identity(req, url, raw, reply);
      return await this.rest(req, url, raw, call, reply);
    } catch (e) {
      if (!res.headersSent) reply(200, this.failure('611', `System error: ${(e as Error).message}`));
    }
  }

  private takeFault(target: 'rest' | 'identity'): FakeMarketoFault | undefined {
    const q = this.faults[target][0];
    if (!q) return undefined;
    q.remaining--;
    if (q.remaining <= 0) this.faults[target].shift();
    return q.fault;
  }

  private requestId(): string {
    return `${(++this.requestSeq).toString(16)}#${this.now().toString(16)}`;
  }

  private failure(code: string, message?: string): object {
    return { requestId: this.requestId(), success: false, errors: [{ code, message: message ?? MARKETO_ERROR_MESSAGES[code] ?? 'Error' }] };
  }

  // ---- Identity -----------------------------------------------------------------------------

  private identity(req: IncomingMessage, url: URL, raw: string, reply: (s: number, b: unknown) => void): void {
    if (url.pathname !== '/identity/oauth/token') return reply(404, { error: 'not_found', error_description: 'Not Found' });
    if (req.method !== 'GET' && req.method !== 'POST') return reply(405, { error: 'method_not_allowed', error_description: 'Request method not supported' });
    const params = new URLSearchParams(url.search);
    if (req.method === 'POST' && raw) for (const [k, v] of new URLSearchParams(raw)) if (!params.has(k)) params.set(k, v);
    const grant = params.get('grant_type');
    const clientId = params.get('client_id');
    const secret = params.get('client_secret');
    if (!grant) return reply(400, { error: 'invalid_request', error_description: 'Missing grant type' });
    if (grant !== 'client_credentials') return reply(400, { error: 'unsupported_grant_type', error_description: `Unsupported grant type: ${grant}` });
    if (!clientId) return reply(401, { error: 'unauthorized', error_description: 'Full authentication is required to access this resource' });
    if (!this.clients.has(clientId)) return reply(401, { error: 'unauthorized', error_description: `No client with requested id: ${clientId}` });
    if (this.clients.get(clientId) !== secret) return reply(401, { error: 'unauthorized', error_description: 'Bad credentials' });

    const now = this.now();
    const current = this.currentToken.get(clientId);
    const state = current ? this.tokens.get(current) : undefined;
    // Asking again before expiry returns the same token with its remaining life (authentication.md).
    if (current && state && !state.revoked && state.expiresAt > now) {
      return reply(200, { access_token: current, token_type: 'bearer', expires_in: Math.floor((state.expiresAt - now) / 1000), scope: 'apis@leadrelay.test' });
    }
    const ttl = this.options.tokenTtlSeconds ?? 3600;
    const token = `${randomUUID()}:ab`;
    this.tokens.set(token, { clientId, expiresAt: now + ttl * 1000, revoked: false });
    this.currentToken.set(clientId, token);
    reply(200, { access_token: token, token_type: 'bearer', expires_in: ttl - 1, scope: 'apis@leadrelay.test' });
  }

  // ---- REST ---------------------------------------------------------------------------------

  private async rest(req: IncomingMessage, url: URL, raw: string, call: FakeMarketoCall, reply: (s: number, b: unknown) => void): Promise<void> {
    // Authentication: Authorization: Bearer (or the legacy access_token parameter).
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : url.searchParams.get('access_token') ?? undefined;
    const state = token ? this.tokens.get(token) : undefined;
    if (!state || state.revoked || !this.clients.has(state.clientId)) return reply(200, this.failure('601'));
    if (state.expiresAt <= this.now()) return reply(200, this.failure('602'));

    // Limits, checked before the call counts.
    const now = this.now();
    const { callsPerWindow, windowMs = MARKETO_REAL_LIMITS.windowMs, maxConcurrent, dailyQuota } = this.limits;
    if (maxConcurrent !== undefined && this.inFlightCount >= maxConcurrent) return reply(200, this.failure('615'));
    if (callsPerWindow !== undefined) {
      while (this.window.length > 0 && this.window[0]! <= now - windowMs) this.window.shift();
      if (this.window.length >= callsPerWindow) {
        return reply(200, this.failure('606', `Max rate limit '${callsPerWindow}' exceeded with in '${Math.round(windowMs / 1000)}' secs`));
      }
    }
    if (dailyQuota !== undefined && this.dailyCalls >= dailyQuota) return reply(200, this.failure('607'));
    this.window.push(now);
    this.dailyCalls++;
    this.stats.acceptedCalls++;

    this.inFlightCount++;
    this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.inFlightCount);
    try {
      if (this.accessDenied) return reply(200, this.failure('603'));
      const route = this.route(req.method ?? 'GET', url.pathname);
      if (!route) return reply(200, this.failure('610'));
      if (route === 'method') return reply(200, this.failure('605'));

      let body: unknown;
      if (req.method === 'POST') {
        if (!String(req.headers['content-type'] ?? '').toLowerCase().includes('application/json')) return reply(200, this.failure('612'));
        try {
          body = JSON.parse(raw);
        } catch {
          return reply(200, this.failure('609'));
        }
        call.body = body;
      }

      if (route === 'describe') return reply(200, await this.afterDelays(() => this.describe()));
      if (typeof route === 'object') return reply(200, await this.afterDelays(() => this.formFields(route.formId)));
      if (route === 'query') return reply(200, await this.afterDelays(() => this.query(url)));
      return reply(200, await this.write(route, body));
    } finally {
      this.inFlightCount--;
    }
  }

  private route(method: string, path: string): 'describe' | 'query' | Operation | 'method' | { formId: number } | undefined {
    const form = /^\/rest\/asset\/v1\/form\/(\d+)\/fields\.json$/.exec(path);
    if (form) return method === 'GET' ? { formId: Number(form[1]) } : 'method';
    switch (path) {
      case '/rest/v1/leads/describe.json':
        return method === 'GET' ? 'describe' : 'method';
      case '/rest/v1/leads.json':
        return method === 'POST' ? 'sync' : method === 'GET' ? 'query' : 'method';
      case '/rest/v1/leads/push.json':
        return method === 'POST' ? 'push' : 'method';
      case '/rest/v1/leads/submitForm.json':
        return method === 'POST' ? 'form' : 'method';
      default:
        return undefined;
    }
  }

  /** Latency, then any hold, then the work. */
  private async afterDelays<T>(work: () => T): Promise<T> {
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    while (this.gate) await this.gate;
    return work();
  }

  private get leadFields(): Set<string> {
    return new Set(this.options.leadFields ?? STANDARD_LEAD_FIELDS);
  }

  /** A field's text length as describe reports it (undefined: no limit the fake enforces). */
  private fieldLength(name: string): number | undefined {
    const configured = this.options.fieldLengths?.[name];
    if (configured !== undefined) return configured;
    if (name === 'id' || TEXT_AREA_FIELDS.has(name)) return undefined;
    return 255;
  }

  private describe(): object {
    const result = [...this.leadFields].map((name, i) => {
      const length = this.fieldLength(name);
      return {
        id: i + 1, displayName: name,
        dataType: name === 'email' ? 'email' : name === 'id' ? 'integer' : TEXT_AREA_FIELDS.has(name) ? 'text' : 'string',
        ...(length !== undefined ? { length } : {}),
        rest: { name, readOnly: READ_ONLY_FIELDS.has(name) }, soap: { name: marketoSoapName(name), readOnly: READ_ONLY_FIELDS.has(name) },
      };
    });
    return { requestId: this.requestId(), success: true, result };
  }

  /** Asset API form field list (Adobe `forms.md`): SOAP-style ids, no REST names. */
  private formFields(formId: number): object {
    // Without `forms` every form id exists and holds every lead field (as submitForm then accepts).
    const fields = this.options.forms ? this.options.forms[formId] : [...this.leadFields].filter((f) => !READ_ONLY_FIELDS.has(f));
    // Assumed: the Asset API answers an unknown id like its other lookups, success with a warning and no result.
    if (!fields) return { requestId: this.requestId(), success: true, errors: [], warnings: ['No assets found for the given search criteria.'] };
    const result = fields.map((name, i) => {
      if (!this.leadFields.has(name)) return { id: name, dataType: name === 'Profiling' ? 'profiling' : 'htmltext', rowNumber: i, columnNumber: 0 };
      const length = this.fieldLength(name);
      return {
        id: marketoSoapName(name), label: `${marketoSoapName(name)}:`, dataType: name === 'email' ? 'email' : 'text',
        rowNumber: i, columnNumber: 0, ...(length !== undefined ? { maxLength: length } : {}), required: name === 'email', formPrefill: true,
        visibilityRules: { ruleType: 'alwaysShow' },
      };
    });
    return { requestId: this.requestId(), success: true, errors: [], warnings: [], result };
  }

  private query(url: URL): object {
    const filterType = url.searchParams.get('filterType');
    const values = (url.searchParams.get('filterValues') ?? '').split(',').filter(Boolean);
    if (!filterType) return this.failure('1003', 'filterType cannot be blank');
    const seen = new Set<number>();
    const result: object[] = [];
    for (const v of values) {
      for (const lead of filterType === 'id' ? [this.store.get(Number(v))].filter((l): l is FakeMarketoLead => !!l) : this.store.find(filterType, v)) {
        if (seen.has(lead.id)) continue;
        seen.add(lead.id);
        result.push({ id: lead.id, ...lead.fields, createdAt: new Date(lead.createdAt).toISOString(), updatedAt: new Date(lead.updatedAt).toISOString() });
      }
    }
    return { requestId: this.requestId(), success: true, result };
  }

  private async write(op: Operation, body: unknown): Promise<object> {
    const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const input = b.input;
    if (!Array.isArray(input) || input.length === 0) return this.failure('701', 'input cannot be blank');
    const max = op === 'form' ? (this.options.formMaxRecords ?? 1) : this.limits.maxBatchSize;
    if (max !== undefined && input.length > max) {
      // Assumed: Adobe documents the 300-record limit but not the code returned past it.
      return this.failure('1003', `Invalid data: the input exceeds the limit of ${max} record${max === 1 ? '' : 's'}`);
    }

    let lookupField = 'email';
    let action = 'createOrUpdate';
    let formFields: Set<string> | undefined;
    if (op === 'sync') {
      lookupField = typeof b.lookupField === 'string' ? b.lookupField : 'email';
      action = typeof b.action === 'string' ? b.action : 'createOrUpdate';
      if (!['createOrUpdate', 'createOnly', 'updateOnly', 'createDuplicate'].includes(action)) return this.failure('1003', `Invalid action '${action}'`);
    } else if (op === 'push') {
      lookupField = typeof b.lookupField === 'string' ? b.lookupField : 'email';
      if (typeof b.programName !== 'string' || b.programName === '') return this.failure('701', 'programName cannot be blank');
      // Assumed code for an unknown program: 1013 Object not found.
      if (this.options.programs && !this.options.programs.includes(b.programName)) return this.failure('1013', `Program '${b.programName}' not found`);
    } else {
      if (b.formId === undefined || b.formId === null || b.formId === '') return this.failure('701', 'formId cannot be blank');
      const formId = Number(b.formId);
      if (this.options.forms) {
        const fields = this.options.forms[formId];
        if (!fields) return this.failure('1013', `Form ${String(b.formId)} not found`);
        formFields = new Set(fields);
      }
    }
    if (lookupField !== 'email' && lookupField !== 'id' && !this.leadFields.has(lookupField)) {
      return this.failure('1006', `Field '${lookupField}' not found`);
    }

    const records = input.map((item) => {
      const o = (item && typeof item === 'object' ? item : {}) as Record<string, unknown>;
      if (op !== 'form') return o;
      const f = o.leadFormFields;
      return f && typeof f === 'object' ? (f as Record<string, unknown>) : undefined;
    });

    // With concurrentUpsertDuplicates the lookup sees the database as it was when the call arrived.
    const racy = this.options.concurrentUpsertDuplicates !== false;
    const early = racy ? records.map((r) => (r ? this.store.find(lookupField, r[lookupField]).map((l) => l.id) : [])) : undefined;
    await this.afterDelays(() => undefined);

    const requestId = this.requestId();
    const at = this.now();
    const createdHere = new Map<string, FakeMarketoLead>();
    const result = records.map((record, i): RecordOutcome => {
      if (!record) return skipped('1003', 'leadFormFields is required');
      const rule = this.skipRules.find((r) => r.match(record, op));
      if (rule) return skipped(rule.code, rule.message);
      for (const field of Object.keys(record)) {
        if (formFields ? !formFields.has(field) : !this.leadFields.has(field)) return skipped('1006', `Field '${field}' not found`);
        if (READ_ONLY_FIELDS.has(field) && !(field === 'id' && action === 'updateOnly')) return skipped('1003', `Field '${field}' cannot be written`);
      }
      if (typeof record.email === 'string' && !ASCII.test(record.email)) {
        // Assumed code: Adobe says only ASCII is supported in email but not how a violation is reported.
        return skipped('1003', 'Invalid data: email address must contain only ASCII characters');
      }
      const key = record[lookupField];
      if (key === undefined || key === null || key === '') return skipped('1002', `Missing value for the required parameter '${lookupField}'`);

      const keyText = `${lookupField}:${lookupField === 'email' ? String(key).toLowerCase() : String(key)}`;
      for (const [field, value] of Object.entries(record)) {
        const max = this.fieldLength(field);
        if (typeof value !== 'string' || max === undefined || value.length <= max) continue;
        // Assumed code: Adobe documents the lengths but not what an over-long value gets.
        if (this.options.overLongValues !== 'truncate') return skipped('1003', `Invalid data: value for field '${field}' exceeds the maximum length of ${max}`);
        record[field] = value.slice(0, max);
      }

      const sameBatch = racy ? undefined : createdHere.get(keyText);
      const matches = sameBatch ? [sameBatch]
        : early ? early[i]!.map((id) => this.store.get(id)).filter((l): l is FakeMarketoLead => !!l)
          : lookupField === 'id' ? [this.store.get(Number(key))].filter((l): l is FakeMarketoLead => !!l) : this.store.find(lookupField, key);
      if (matches.length > 1 && action !== 'createDuplicate') return skipped('1007', 'Multiple leads match the lookup criteria');
      const existing = action === 'createDuplicate' ? undefined : matches[0];
      if (action === 'createOnly' && existing) return skipped('1005', 'Lead already exists');
      if (action === 'updateOnly' && !existing) return skipped('1004', 'Lead not found');

      const activity = { type: op, at, requestId, ...(op === 'push' ? { programName: String(b.programName) } : {}), ...(op === 'form' ? { formId: Number(b.formId) } : {}) };
      const { id: _ignored, ...fields } = record;
      this.stats.recordsWritten++;
      if (existing) {
        this.store.update(existing, fields, at);
        existing.activities.push(activity);
        return { id: existing.id, status: 'updated' };
      }
      const lead = this.store.create(fields, at);
      lead.activities.push(activity);
      createdHere.set(keyText, lead);
      return { id: lead.id, status: 'created' };
    });
    return { requestId, success: true, ...(op === 'push' ? { warnings: [] } : {}), result };
  }
}

function skipped(code: string, message: string): RecordOutcome {
  return { status: 'skipped', reasons: [{ code, message }] };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
