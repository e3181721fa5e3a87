import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { AzureAdServer } from '../azure-ad/index.js';

/** A referral as the Partner Center Referrals API returns it (the fields a lead poller reads). */
export interface Referral {
  id: string;
  engagementId: string;
  name: string;
  externalReferenceId: string;
  createdDateTime: string;
  updatedDateTime: string;
  status: 'None' | 'New' | 'Active' | 'Closed';
  substatus: string;
  type: 'Independent' | 'Shared';
  qualification: 'None' | 'Direct' | 'MarketingQualified' | 'SalesQualified';
  direction: 'Incoming' | 'Outgoing';
  referralSource?: string;
  callToAction?: string;
  customerProfile: {
    name: string;
    size?: string;
    address: { addressLine1?: string; city?: string; state?: string; postalCode?: string; country?: string };
    team: { firstName?: string; lastName?: string; email?: string; phoneNumber?: string; title?: string }[];
  };
  consent: { consentToContact?: boolean; consentToToShareInfoWithOthers?: boolean };
  details: { notes?: string; dealValue?: number; currency?: string; customerAction?: string; requirements?: { solutions?: { id: string; name: string; publisherName?: string }[] } };
  inviteContext: { notes?: string; invitedBy?: { organizationId?: string; organizationName?: string } };
  eTag: string;
}

/** One request the fake received. */
export interface PartnerCenterRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: string;
  /** When it arrived (ms since the epoch). */
  at: number;
  status?: number | 'hang';
}

/** Something the API does instead of its normal answer. */
export type PartnerCenterFault =
  | { kind: 'throttle'; retryAfterSeconds: number }
  | { kind: 'server-error'; status?: number }
  /** Never answer: the client's timeout fires. */
  | { kind: 'hang' }
  /** 401 as for an expired bearer, whatever was sent. */
  | { kind: 'unauthorized' };

export interface PartnerCenterServerOptions {
  tls: { cert: string; key: string };
  /** Tokens are checked against this fake Entra ID (audience `https://api.partner.microsoft.com`). */
  azureAd: AzureAdServer;
  /** Largest `$top` honoured; larger values are clamped (the real cap is unpublished; 2019 docs say 100). */
  maxPageSize?: number;
}

export const PARTNER_CENTER_AUDIENCE = 'https://api.partner.microsoft.com';
const BASE = '/v1.0/engagements/referrals';
const PATCHABLE = new Set(['/externalReferenceId', '/status', '/substatus', '/statusReason', '/details/dealValue', '/details/notes', '/team/-']);
/** Allowed status moves (Partner Center Referrals API: update a referral): New → New/Active/Closed, Active → Active/Closed, Closed → Closed. */
const TRANSITIONS: Record<string, string[]> = { None: ['None', 'New', 'Active', 'Closed'], New: ['New', 'Active', 'Closed'], Active: ['Active', 'Closed'], Closed: ['Closed'] };

/**
 * A fake Partner Center Referrals API over HTTPS, built from the reference: App+User bearer tokens of a
 * fake Entra ID (401 missing/expired, 403 without a Referrals role), the list with `$filter` (`and`-joined
 * `eq`/`ne`/`gt`/`ge`/`lt`/`le` on top-level and `customerProfile/address/country` fields), `$orderby`,
 * `$top` and an opaque `$skiptoken` in `@odata.nextLink`, GET one (404), JSON Patch PATCH with ETag /
 * If-Match (412), the status transition table, and 429 + Retry-After on demand. Every reply carries `Request-ID`.
 */
export class PartnerCenterServer {
  readonly requests: PartnerCenterRequest[] = [];
  private readonly referrals = new Map<string, Referral>();
  private readonly roles = new Map<string, 'ReferralsAdmin' | 'ReferralsUser'>();
  private readonly faults: { fault: PartnerCenterFault; remaining: number; match?: 'list' | 'patch' | 'get' }[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly pageSizeCap: number;
  /** Serve the last referral of page N again at the top of page N+1 (a reordering the poller must absorb). */
  repeatAcrossPages = false;
  /** Called before a PATCH is checked (a test changes the referral here to make the PATCH's eTag stale). */
  onPatch?: (id: string) => void;
  /** Called before each list page is answered (tests insert or update referrals between pages). */
  onListPage?: (pageIndex: number) => void;

  private constructor(private readonly server: Server, readonly port: number, private readonly options: PartnerCenterServerOptions) {
    this.pageSizeCap = options.maxPageSize ?? 100;
  }

  static async start(options: PartnerCenterServerOptions): Promise<PartnerCenterServer> {
    const server = createServer({ cert: options.tls.cert, key: options.tls.key });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const pc = new PartnerCenterServer(server, (server.address() as AddressInfo).port, options);
    server.on('connection', (s: Socket) => { pc.sockets.add(s); s.on('close', () => pc.sockets.delete(s)); });
    server.on('request', (req, res) => { void pc.handle(req, res); });
    return pc;
  }

  /** What a referrals source's `apiUrl` is set to in tests. */
  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  grantRole(username: string, role: 'ReferralsAdmin' | 'ReferralsUser'): void {
    this.roles.set(username.toLowerCase(), role);
  }

  /** Adds or replaces a referral; missing fields get the values of a marketplace lead (Independent / Direct / msft). */
  put(partial: Partial<Referral> & { id: string }): Referral {
    const now = new Date().toISOString();
    const r: Referral = {
      engagementId: randomUUID(), name: `${partial.id} - Contact me`, externalReferenceId: '',
      createdDateTime: partial.updatedDateTime ?? now, updatedDateTime: now, status: 'New', substatus: 'Pending',
      type: 'Independent', qualification: 'Direct', direction: 'Incoming',
      customerProfile: { name: 'Northwind Traders', address: { country: 'GB' }, team: [{ firstName: 'Ana', lastName: 'Silva', email: `${partial.id}@northwind.example` }] },
      consent: { consentToContact: true }, details: { notes: 'Wants a demo', currency: 'USD' },
      inviteContext: { invitedBy: { organizationId: 'msft' } },
      ...partial, eTag: `"${randomUUID().slice(0, 8)}"`,
    };
    this.referrals.set(r.id, r);
    return r;
  }

  /** Forgets every referral (tests sharing one server start from an empty workspace). */
  clearReferrals(): void {
    this.referrals.clear();
  }

  get(id: string): Referral | undefined {
    return this.referrals.get(id);
  }

  get all(): Referral[] {
    return [...this.referrals.values()];
  }

  /** The next `times` matching requests get this fault instead (`match` narrows it to one kind of call). */
  injectFault(fault: PartnerCenterFault, times = 1, match?: 'list' | 'patch' | 'get'): void {
    this.faults.push({ fault, remaining: times, match });
  }

  get listRequests(): PartnerCenterRequest[] {
    return this.requests.filter((r) => r.method === 'GET' && r.path === BASE);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private takeFault(kind: 'list' | 'patch' | 'get'): PartnerCenterFault | undefined {
    const i = this.faults.findIndex((f) => !f.match || f.match === kind);
    if (i < 0) return undefined;
    const f = this.faults[i]!;
    f.remaining -= 1;
    if (f.remaining <= 0) this.faults.splice(i, 1);
    return f.fault;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const body = await new Promise<string>((resolve) => {
      let text = '';
      req.on('data', (d: Buffer) => { text += d.toString('utf8'); });
      req.on('end', () => resolve(text));
    });
    const record: PartnerCenterRequest = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body, at: Date.now() };
    this.requests.push(record);
    const requestId = randomUUID();
    const reply = (status: number, payload?: unknown, headers: Record<string, string> = {}): void => {
      record.status = status;
      res.writeHead(status, { 'Request-ID': requestId, 'MS-CV': randomUUID(), ...(payload === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8' }), ...headers });
      res.end(payload === undefined ? undefined : JSON.stringify(payload));
    };
    const error = (status: number, code: string, description: string, headers: Record<string, string> = {}) =>
      reply(status, { code, description, data: [], source: 'Referrals', requestId }, headers);

    const isList = url.pathname === BASE;
    const idMatch = url.pathname.startsWith(`${BASE}/`) ? decodeURIComponent(url.pathname.slice(BASE.length + 1)) : undefined;
    if (!isList && !idMatch) return error(404, 'NotFound', `No route for ${url.pathname}`);
    const kind = isList ? 'list' : req.method === 'PATCH' ? 'patch' : 'get';

    const fault = this.takeFault(kind);
    if (fault?.kind === 'hang') { record.status = 'hang'; return; }
    if (fault?.kind === 'throttle') return error(429, 'TooManyRequests', 'Rate limit is exceeded. Try again later.', { 'Retry-After': String(fault.retryAfterSeconds) });
    if (fault?.kind === 'server-error') return error(fault.status ?? 500, 'InternalServerError', 'An error occurred while processing the request.');

    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer || fault?.kind === 'unauthorized') return error(401, 'Unauthorized', 'Authentication failed: the bearer token is missing or invalid.', { 'WWW-Authenticate': 'Bearer' });
    const verdict = this.options.azureAd.verifyAccessToken(bearer, PARTNER_CENTER_AUDIENCE);
    if (!verdict.ok) return error(401, 'Unauthorized', `Authentication failed: token ${verdict.reason}.`, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
    // App+User only: an app-only token (client credentials) has no user and gets 401 like Partner Center does.
    if (verdict.token.grantType === 'client_credentials' || !verdict.token.username) return error(401, 'Unauthorized', 'App-only tokens are not supported by the Referrals API.');
    const role = this.roles.get(verdict.token.username.toLowerCase());
    if (!role) return error(403, 'Forbidden', 'The user does not have a Referrals Admin or Referrals User role.');

    if (isList) {
      if (req.method !== 'GET') return error(405, 'MethodNotAllowed', 'Only GET is allowed on the referrals collection.');
      return this.list(url, reply, error);
    }
    const referral = this.referrals.get(idMatch!);
    if (req.method === 'GET') return referral ? reply(200, referral) : error(404, 'NotFound', `Referral ${idMatch} was not found.`);
    if (req.method !== 'PATCH') return error(405, 'MethodNotAllowed', 'Use GET or PATCH.');
    if (!referral) return error(404, 'NotFound', `Referral ${idMatch} was not found.`);
    if (role !== 'ReferralsAdmin') return error(403, 'Forbidden', 'Updating a referral needs the Referrals Admin role.');
    this.onPatch?.(referral.id);
    const current = this.referrals.get(referral.id)!;
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== current.eTag) return error(412, 'PreconditionFailed', 'The referral was changed since it was read (eTag mismatch).');
    let ops: { op?: string; path?: string; value?: unknown }[];
    try {
      ops = JSON.parse(body) as typeof ops;
      if (!Array.isArray(ops)) throw new Error('not an array');
    } catch {
      return error(400, 'BadRequest', 'The request body must be a JSON Patch array.');
    }
    const next = structuredClone(current);
    for (const op of ops) {
      if (op.op !== 'replace' && op.op !== 'add') return error(400, 'BadRequest', `Unsupported patch operation '${op.op}': only replace and add.`);
      if (!op.path || !PATCHABLE.has(op.path)) return error(400, 'BadRequest', `Path '${op.path}' cannot be patched.`);
      if (op.path === '/team/-') next.customerProfile.team.push(op.value as Referral['customerProfile']['team'][number]);
      else if (op.path.startsWith('/details/')) (next.details as Record<string, unknown>)[op.path.slice(9)] = op.value;
      else (next as unknown as Record<string, unknown>)[op.path.slice(1)] = op.value;
    }
    if (!TRANSITIONS[current.status]!.includes(next.status)) return error(400, 'BadRequest', `Status cannot move from ${current.status} to ${next.status}.`);
    next.eTag = `"${randomUUID().slice(0, 8)}"`;
    next.updatedDateTime = new Date().toISOString();
    this.referrals.set(next.id, next);
    if (/return=representation/i.test(String(req.headers.prefer ?? ''))) return reply(200, next);
    return reply(204);
  }

  private list(url: URL, reply: (status: number, payload?: unknown) => void, error: (status: number, code: string, description: string) => void): void {
    // The skiptoken is opaque to clients; here it carries the original query and the offset reached.
    let query: { filter?: string; orderby?: string; top: number; offset: number; page: number };
    const skip = url.searchParams.get('$skiptoken');
    if (skip) {
      try {
        query = JSON.parse(Buffer.from(skip, 'base64url').toString('utf8')) as typeof query;
      } catch {
        return error(400, 'BadRequest', 'Invalid $skiptoken.');
      }
    } else {
      const top = Number(url.searchParams.get('$top') ?? this.pageSizeCap);
      if (!Number.isInteger(top) || top < 1) return error(400, 'BadRequest', '$top must be a positive integer.');
      query = { filter: url.searchParams.get('$filter') ?? undefined, orderby: url.searchParams.get('$orderby') ?? undefined, top: Math.min(top, this.pageSizeCap), offset: 0, page: 0 };
    }
    let predicate: (r: Referral) => boolean;
    try {
      predicate = parseFilter(query.filter);
    } catch (e) {
      return error(400, 'BadRequest', `Invalid $filter: ${(e as Error).message}`);
    }
    const order = /^(createdDateTime|updatedDateTime)(?:\s+(asc|desc))?$/.exec(query.orderby ?? 'createdDateTime asc');
    if (!order) return error(400, 'BadRequest', `$orderby supports createdDateTime or updatedDateTime, asc or desc (got '${query.orderby}').`);
    this.onListPage?.(query.page);
    const field = order[1] as 'createdDateTime' | 'updatedDateTime';
    const sign = order[2] === 'desc' ? -1 : 1;
    const rows = [...this.referrals.values()].filter(predicate)
      .sort((a, b) => sign * (Date.parse(a[field]) - Date.parse(b[field]) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
    const start = this.repeatAcrossPages && query.offset > 0 ? query.offset - 1 : query.offset;
    const value = rows.slice(start, query.offset + query.top);
    const end = query.offset + query.top;
    const next = end < rows.length ? { ...query, offset: end, page: query.page + 1 } : undefined;
    reply(200, {
      '@odata.context': `${this.url}/v1.0/$metadata#Referrals`,
      '@odata.count': value.length,
      value,
      ...(next ? { '@odata.nextLink': `${this.url}${BASE}?$skiptoken=${Buffer.from(JSON.stringify(next)).toString('base64url')}` } : {}),
    });
  }
}

/** A subset of OData `$filter`: `field op value` terms joined by `and`; values are 'strings' or bare ISO date-times. */
function parseFilter(filter: string | undefined): (r: Referral) => boolean {
  if (!filter || !filter.trim()) return () => true;
  const terms = filter.split(/\s+and\s+/i).map((term) => {
    const m = /^\(?\s*([A-Za-z/]+)\s+(eq|ne|gt|ge|lt|le)\s+('(?:[^']|'')*'|\d{4}-\d{2}-\d{2}T[0-9:.]+Z)\s*\)?$/.exec(term.trim());
    if (!m) throw new Error(`cannot parse '${term}'`);
    const [, path, op, raw] = m as unknown as [string, string, string, string];
    const value = raw.startsWith("'") ? raw.slice(1, -1).replace(/''/g, "'") : raw;
    const isDate = /DateTime$/.test(path);
    if (!['status', 'substatus', 'direction', 'type', 'qualification', 'engagementId', 'createdDateTime', 'updatedDateTime', 'customerProfile/address/country'].includes(path)) {
      throw new Error(`property '${path}' cannot be filtered`);
    }
    return (r: Referral) => {
      const actual = path.split('/').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], r);
      const a = isDate ? Date.parse(String(actual)) : String(actual);
      const b = isDate ? Date.parse(value) : value;
      switch (op) {
        case 'eq': return a === b;
        case 'ne': return a !== b;
        case 'gt': return a > b;
        case 'ge': return a >= b;
        case 'lt': return a < b;
        default: return a <= b;
      }
    };
  });
  return (r) => terms.every((t) => t(r));
}
