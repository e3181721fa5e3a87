import { createHash, randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/** How the fake checks bearer tokens: Dataverse trusts Entra ID; here, the fake Azure AD that issued them. */
export interface TokenVerifier {
  verifyAccessToken(token: string, audience: string): { ok: true; token: { subject: string; clientId: string; username?: string } } | { ok: false; reason: string };
}

/** A column of the fake lead table. */
export type LeadColumn =
  | { type: 'string'; maxLength: number }
  | { type: 'memo'; maxLength: number }
  | { type: 'picklist'; options: number[] };

/** The lead columns LeadRelay writes, with the types and lengths of the Dataverse lead table. */
export const LEAD_COLUMNS: Record<string, LeadColumn> = {
  firstname: { type: 'string', maxLength: 50 },
  lastname: { type: 'string', maxLength: 50 },
  emailaddress1: { type: 'string', maxLength: 100 },
  telephone1: { type: 'string', maxLength: 50 },
  mobilephone: { type: 'string', maxLength: 20 },
  address1_country: { type: 'string', maxLength: 80 },
  address1_city: { type: 'string', maxLength: 80 },
  companyname: { type: 'string', maxLength: 100 },
  jobtitle: { type: 'string', maxLength: 100 },
  websiteurl: { type: 'string', maxLength: 200 },
  subject: { type: 'string', maxLength: 300 },
  description: { type: 'memo', maxLength: 2000 },
  leadsourcecode: { type: 'picklist', options: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] },
};

/** Something the fake does instead of its normal answer. */
export type DataverseFault =
  /** 429 with Retry-After and a service-protection error (default 0x80072322, number of requests). */
  | { kind: 'throttle'; code?: '0x80072322' | '0x80072321' | '0x80072326'; retryAfterSeconds?: number }
  /** 403 PrivilegeDenied (0x80040220): missing prvCreateLead. */
  | { kind: 'privilege-denied' }
  /** 403 AttributePrivilegeCreateIsMissing (0x8004F502) on a secured column (default leadsourcecode). */
  | { kind: 'attribute-privilege-create'; attribute?: string }
  /** 403 "SecLib::RetrievePrivilegeForUser failed - no roles are assigned to user" (0x80042F09). */
  | { kind: 'no-roles' }
  /** 403 "The user is not a member of the organization.": a valid token for an app with no (active) application user here. */
  | { kind: 'not-member' }
  /** 401 whatever the token. */
  | { kind: 'unauthorized' }
  /** 5xx with an OData error (default 500 0x80040216 "An unexpected error occurred."). */
  | { kind: 'server-error'; status?: number }
  /** Answer normally, but only after `delayMs`. */
  | { kind: 'slow'; delayMs: number }
  /** Destroy the connection. */
  | { kind: 'reset' }
  /** Write the record, then destroy the connection: the answer is lost after the commit. */
  | { kind: 'reset-after-write' }
  /** Write the record, then answer only after `delayMs`: a worker can die after the commit, before it hears of it. */
  | { kind: 'hang-after-write'; delayMs: number }
  /** Any raw answer. */
  | { kind: 'reply'; status: number; headers?: Record<string, string>; body?: string };

export interface DataverseRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  json: unknown;
  outcome?: number | 'reset' | 'client-closed';
}

export interface DataverseServerOptions {
  tokens: TokenVerifier;
  /** Serve HTTPS with this certificate (default plain http, allowed for loopback instance URLs). */
  tls?: { cert: string; key: string };
  host?: string;
}

const API = /^\/api\/data\/v(\d+\.\d+)(\/.*)?$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function stableGuid(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * A fake Dataverse Web API (per Microsoft's Dataverse Web API docs): `PATCH /api/data/v9.x/leads(<id>)` upserts (204 + OData-EntityId, 201/200
 * with `Prefer: return=representation`; `If-Match: *` = update only → 404, `If-None-Match: *` = create only → 412),
 * `GET leads(<id>)`, `GET WhoAmI`. Checks bearer tokens (401 with WWW-Authenticate when unknown/expired/wrong audience),
 * validates columns like the lead table (400 unknown property / too long / wrong type), keeps records by id so tests can
 * count them, records every request, and injects faults (429 service protection, 403 privilege bodies, 5xx, slow, reset).
 * Anything outside /api/data answers an HTML 404 page, like a web site.
 */
export class DataverseServer {
  readonly requests: DataverseRequest[] = [];
  /** Lead records by leadid (lower-case). */
  readonly leads = new Map<string, Record<string, unknown>>();
  readonly columns: Record<string, LeadColumn> = { ...LEAD_COLUMNS };
  readonly organizationId = randomUUID();
  readonly businessUnitId = randomUUID();
  private readonly faults: { fault: DataverseFault; remaining: number }[] = [];
  /**
   * The caller's Lead privileges. Dataverse runs an upsert as Create or Update, so an upsert that finds the record
   * needs prvWriteLead; a role that only creates (write: false) is refused there, as a real org does.
   */
  privileges = { create: true, write: true };
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, readonly url: string, private readonly tokens: TokenVerifier) {}

  static async start(options: DataverseServerOptions): Promise<DataverseServer> {
    const server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }) : createHttpServer();
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const dv = new DataverseServer(server as Server, `${options.tls ? 'https' : 'http'}://${host}:${port}`, options.tokens);
    server.on('connection', (s: Socket) => { dv.sockets.add(s); s.on('close', () => dv.sockets.delete(s)); });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => { void dv.handle(req, res); });
    return dv;
  }

  /** The next `times` Web API requests (default 1; Infinity = until cleared) get this fault. */
  injectFault(fault: DataverseFault, times = 1): void {
    this.faults.push({ fault, remaining: times });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Adds a custom column (e.g. `new_marketplaceoffer`) so `fields:` can write it. */
  addColumn(name: string, column: LeadColumn): void {
    this.columns[name] = column;
  }

  /** Every PATCH of a lead record. */
  get leadWrites(): DataverseRequest[] {
    return this.requests.filter((r) => r.method === 'PATCH' && /\/leads\(/.test(r.path));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawBody = await new Promise<string>((resolve) => {
      let text = '';
      req.on('data', (d: Buffer) => { text += d.toString('utf8'); });
      req.on('end', () => resolve(text));
    });
    const url = new URL(req.url ?? '/', this.url);
    let json: unknown;
    try {
      json = rawBody ? JSON.parse(rawBody) : undefined;
    } catch {
      json = undefined;
    }
    const record: DataverseRequest = { method: req.method ?? 'GET', url: req.url ?? '/', path: decodeURIComponent(url.pathname), headers: req.headers, rawBody, json };
    this.requests.push(record);
    res.on('close', () => { if (record.outcome === undefined) record.outcome = 'client-closed'; });
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}): void => {
      if (res.destroyed) return;
      record.outcome = status;
      const isText = typeof body === 'string';
      res.writeHead(status, {
        'OData-Version': '4.0', 'REQ_ID': randomUUID(),
        ...(body === undefined ? {} : { 'Content-Type': isText ? 'text/html; charset=utf-8' : 'application/json; odata.metadata=minimal; odata.streaming=true' }),
        ...headers,
      });
      res.end(body === undefined ? undefined : isText ? body : JSON.stringify(body));
    };
    const odataError = (status: number, code: string, message: string, headers: Record<string, string> = {}): void => send(status, { error: { code, message } }, headers);

    const api = API.exec(record.path);
    if (!api) return send(404, '<!DOCTYPE html><html><head><title>404 - Not Found</title></head><body><h1>Not Found</h1></body></html>');

    const fault = this.takeFault();
    if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, fault.delayMs));
    if (res.destroyed) return;

    // Authentication comes first on the real service.
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const verified = bearer ? this.tokens.verifyAccessToken(bearer, this.url) : { ok: false as const, reason: 'missing' };
    if (!verified.ok || fault?.kind === 'unauthorized') {
      record.outcome = 401;
      res.writeHead(401, { 'WWW-Authenticate': `Bearer authorization_uri=https://login.microsoftonline.com/common/oauth2/authorize, resource_id=${this.url}/`, 'Content-Length': '0' });
      return void res.end();
    }
    const principal = verified.token;

    switch (fault?.kind) {
      case 'throttle': {
        const code = fault.code ?? '0x80072322';
        const text = {
          '0x80072322': 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.',
          '0x80072321': 'Combined execution time of incoming requests exceeded limit of 1,200,000 milliseconds over time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.',
          '0x80072326': 'Number of concurrent requests exceeded the limit of 52.',
        }[code];
        return odataError(429, code, text, { 'Retry-After': String(fault.retryAfterSeconds ?? 5) });
      }
      case 'privilege-denied':
        return odataError(403, '0x80040220', `Principal user (Id=${stableGuid(principal.subject)}, type=8, roleCount=1, privilegeCount=7, accessMode=4), is missing prvCreateLead privilege (Id=${stableGuid('prvCreateLead')}) on OTC=4 for entity 'lead'. Context: Method=Create.`);
      case 'attribute-privilege-create':
        return odataError(403, '0x8004f502', `The user does not have create permissions to a secured field. The requested operation could not be completed. User does not have create permissions for the ${fault.attribute ?? 'leadsourcecode'} attribute in the lead entity.`);
      case 'not-member':
        return odataError(403, '0x80072560', 'The user is not a member of the organization.');
      case 'no-roles':
        return odataError(403, '0x80042f09', `SecLib::RetrievePrivilegeForUser failed - no roles are assigned to user. Returned hr = -2147209463, User: ${stableGuid(principal.subject)}`);
      case 'server-error':
        return odataError(fault.status ?? 500, '0x80040216', 'An unexpected error occurred.');
      case 'reset':
        record.outcome = 'reset';
        return void req.socket.destroy();
      case 'reply':
        record.outcome = fault.status;
        res.writeHead(fault.status, fault.headers ?? {});
        return void res.end(fault.body);
      default:
        break;
    }

    const resource = api[2] ?? '/';
    if (resource === '/WhoAmI' || resource === '/WhoAmI()') {
      if (record.method !== 'GET') return odataError(405, '0x80060888', 'The requested resource does not support http method \'' + record.method + '\'.');
      return send(200, {
        '@odata.context': `${this.url}/api/data/v${api[1]}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
        BusinessUnitId: this.businessUnitId, UserId: stableGuid(principal.subject), OrganizationId: this.organizationId,
      });
    }
    const lead = /^\/leads\(([^)]*)\)$/.exec(resource);
    if (!lead) {
      const segment = resource.split('/').filter(Boolean)[0] ?? '';
      return odataError(404, '0x80060888', `Resource not found for the segment '${segment}'.`);
    }
    const id = lead[1]!;
    if (!GUID.test(id)) return odataError(400, '0x80060888', `Bad Request - Error in query syntax.`);
    const key = id.toLowerCase();
    const entityUrl = `${this.url}/api/data/v${api[1]}/leads(${key})`;
    if (record.method === 'GET') {
      const row = this.leads.get(key);
      return row ? send(200, { '@odata.etag': 'W/"1"', leadid: key, ...row }) : odataError(404, '0x80040217', `lead With Id = ${key} Does Not Exist`);
    }
    if (record.method !== 'PATCH') return odataError(405, '0x80060888', `The requested resource does not support http method '${record.method}'.`);

    if (!/application\/json/i.test(req.headers['content-type'] ?? '')) return odataError(415, '0x80060888', 'The request contains an entity body but no Content-Type header.');
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      return odataError(400, '0x80048d19', "Error identified in Payload provided by the user for Entity :'leads', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : Microsoft.OData.ODataException: Does not support untyped value in non-open type.");
    }
    const problem = this.validate(json as Record<string, unknown>);
    if (problem) return odataError(400, problem.code, problem.message);

    const exists = this.leads.has(key);
    // Conditional upsert headers (Dataverse Web API: upsert a row): If-Match: * = update only, If-None-Match: * = create only.
    if (req.headers['if-match'] === '*' && !exists) return odataError(404, '0x80040217', `lead With Id = ${key} Does Not Exist`);
    if (req.headers['if-none-match'] === '*' && exists) return odataError(412, '0x80040237', 'A record with matching key values already exists.');

    const missing = exists ? (this.privileges.write ? undefined : 'prvWriteLead') : (this.privileges.create ? undefined : 'prvCreateLead');
    if (missing) {
      return odataError(403, '0x80040220', `Principal user (Id=${stableGuid(principal.subject)}, type=8, roleCount=1, privilegeCount=7, accessMode=4), is missing ${missing} privilege (Id=${stableGuid(missing)}) on OTC=4 for entity 'lead'. Context: Method=${exists ? 'Update' : 'Create'}.`);
    }
    const row = { ...(this.leads.get(key) ?? {}), ...(json as Record<string, unknown>) };
    this.leads.set(key, row);
    if (fault?.kind === 'reset-after-write') {
      record.outcome = 'reset';
      return void req.socket.destroy();
    }
    if (fault?.kind === 'hang-after-write') {
      await new Promise((r) => setTimeout(r, fault.delayMs));
      if (res.destroyed) return;
    }
    if (/return=representation/i.test(String(req.headers.prefer ?? ''))) {
      return send(exists ? 200 : 201, { '@odata.context': `${this.url}/api/data/v${api[1]}/$metadata#leads/$entity`, '@odata.etag': 'W/"1"', leadid: key, ...row });
    }
    return send(204, undefined, { 'OData-EntityId': entityUrl });
  }

  private validate(body: Record<string, unknown>): { code: string; message: string } | undefined {
    for (const [name, value] of Object.entries(body)) {
      const column = this.columns[name];
      if (!column) return { code: '0x80060888', message: `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.lead'.` };
      if (value === null) continue;
      if (column.type === 'picklist') {
        if (typeof value !== 'number' || !Number.isInteger(value)) {
          return { code: '0x80048d19', message: `Error identified in Payload provided by the user for Entity :'leads', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : Microsoft.OData.ODataException: Cannot convert the literal '${String(value)}' to the expected type 'Edm.Int32'.` };
        }
        if (!column.options.includes(value)) {
          return { code: '0x8004431a', message: `A validation error occurred. The value ${value} of '${name}' on record of type 'lead' is outside the valid range. Accepted Values: ${column.options.join(',')}` };
        }
        continue;
      }
      if (typeof value !== 'string') {
        return { code: '0x80048d19', message: `Error identified in Payload provided by the user for Entity :'leads', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : Microsoft.OData.ODataException: Cannot convert a primitive value to the expected type 'Edm.String'. See the inner exception for more details.` };
      }
      if (value.length > column.maxLength) {
        return { code: '0x80044331', message: `A validation error occurred.  The length of the '${name}' attribute of the 'lead' entity exceeded the maximum allowed length of '${column.maxLength}'.` };
      }
    }
    return undefined;
  }

  private takeFault(): DataverseFault | undefined {
    const next = this.faults[0];
    if (!next) return undefined;
    next.remaining -= 1;
    if (next.remaining <= 0) this.faults.shift();
    return next.fault;
  }
}
