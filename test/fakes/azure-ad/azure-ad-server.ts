import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { aadstsBody, type AadstsCode, type AadstsContext } from './aadsts-errors.js';

/** An app registration in a fake tenant. */
export interface FakeApp {
  /** Application (client) ID. */
  clientId: string;
  /** The client secret's value; confidential apps only. */
  secret?: string;
  /** The secret exists but has expired (AADSTS7000222). */
  secretExpired?: boolean;
  /** "Allow public client flows": ROPC without a client secret (default true when there is no secret). */
  publicClient?: boolean;
}

/** A user account in a fake tenant (for the ROPC password grant). */
export interface FakeUser {
  username: string;
  password: string;
  /** Object id; default derived from the username. */
  oid?: string;
  /** Needs MFA: ROPC fails with AADSTS50076. */
  mfaRequired?: boolean;
}

interface FakeTenant {
  tenantId: string;
  apps: Map<string, FakeApp>;
  users: Map<string, FakeUser>;
  /** Resources (Dataverse URLs) that have a service principal here; undefined = any https resource. */
  resources?: Set<string>;
}

/** A token the fake issued; Dataverse fakes check bearer tokens against these. */
export interface IssuedToken {
  accessToken: string;
  tenantId: string;
  clientId: string;
  /** The resource (`aud`): the scope without `/.default` or `/user_impersonation`. */
  audience: string;
  scopes: string[];
  grantType: string;
  /** The app (client credentials) or the user's object id (password / refresh grants). */
  subject: string;
  username?: string;
  expiresAt: number;
  revoked: boolean;
}

export type TokenVerification = { ok: true; token: IssuedToken } | { ok: false; reason: 'unknown' | 'expired' | 'revoked' | 'audience' };

/** Something the token endpoint does instead of its normal answer, for fault-injection tests. */
export type TokenFault =
  /** Answer with this AADSTS error (status, `error` and text as Entra sends them). */
  | { kind: 'aadsts'; code: AadstsCode }
  /** 429 AADSTS90055 with `Retry-After`. */
  | { kind: 'throttle'; retryAfterSeconds?: number }
  /** 5xx (default 500 AADSTS50000). */
  | { kind: 'server-error'; status?: number }
  /** Never answer (until the server closes): for client timeouts. */
  | { kind: 'hang' }
  /** Destroy the connection. */
  | { kind: 'reset' };

/** One request the fake received. Test-only: the form holds the secrets the client sent. */
export interface AzureAdRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  form: Record<string, string>;
  /** The tenant segment of the path. */
  tenant: string;
  /** `openid-configuration`, `token`, `devicecode`, or `other`. */
  endpoint: 'openid-configuration' | 'token' | 'devicecode' | 'other';
  /** What was answered (status, or `reset` / `hang`). */
  outcome?: number | 'reset' | 'hang';
  /** The AADSTS code of an error reply. */
  aadsts?: number;
}

export interface AzureAdServerOptions {
  /** The certificate the HTTPS server presents (MSAL refuses http authorities); trusted via NODE_EXTRA_CA_CERTS. */
  tls: { cert: string; key: string };
  /** Loopback host to bind (default 127.0.0.1). */
  host?: string;
  /** `expires_in` of issued access tokens (default 3599, like Entra's ~60 min). */
  tokenLifetimeSeconds?: number;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DNS_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i;

function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

function stableGuid(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * A fake Microsoft Entra ID (Azure AD) v2.0 endpoint over HTTPS: `/<tenant>/v2.0/.well-known/openid-configuration`
 * and `/<tenant>/oauth2/v2.0/token` with the client_credentials, password (ROPC), refresh_token and device_code
 * grants (`/<tenant>/oauth2/v2.0/devicecode`; a test plays the user with `approveDeviceCode`).
 * Validates tenants, apps, secrets and users like Entra does and answers errors with real AADSTS JSON and
 * statuses; faults can be queued. Records every request; issues JWT-shaped tokens with an expiry that
 * fake resource servers verify with `verifyAccessToken`.
 */
export class AzureAdServer {
  readonly requests: AzureAdRequest[] = [];
  readonly issued: IssuedToken[] = [];
  private readonly tenants = new Map<string, FakeTenant>();
  private readonly faults: { fault: TokenFault; remaining: number }[] = [];
  private readonly refreshTokens = new Map<string, { tenantId: string; clientId: string; username: string; state: 'valid' | 'expired' | 'revoked' }>();
  private readonly deviceCodes = new Map<string, DeviceCodeGrant>();
  private readonly sockets = new Set<Socket>();
  private readonly lifetime: number;

  private constructor(private readonly server: Server, readonly port: number, options: AzureAdServerOptions) {
    this.lifetime = options.tokenLifetimeSeconds ?? 3599;
  }

  static async start(options: AzureAdServerOptions): Promise<AzureAdServer> {
    const server = createServer({ cert: options.tls.cert, key: options.tls.key });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, options.host ?? '127.0.0.1', () => resolve());
    });
    const ad = new AzureAdServer(server, (server.address() as AddressInfo).port, options);
    server.on('connection', (s: Socket) => { ad.sockets.add(s); s.on('close', () => ad.sockets.delete(s)); });
    server.on('request', (req, res) => { void ad.handle(req, res); });
    return ad;
  }

  /** What `auth.authorityHost` is set to in tests. */
  get authorityHost(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  addTenant(tenantId: string, options: { resources?: string[] } = {}): void {
    this.tenants.set(tenantId.toLowerCase(), {
      tenantId, apps: new Map(), users: new Map(),
      resources: options.resources ? new Set(options.resources.map((r) => r.replace(/\/+$/, ''))) : undefined,
    });
  }

  addApp(tenantId: string, app: FakeApp): void {
    this.tenant(tenantId).apps.set(app.clientId.toLowerCase(), { ...app });
  }

  /** Changes an app in place (rotate or expire its secret) — later token requests see the change. */
  updateApp(tenantId: string, clientId: string, change: Partial<FakeApp>): void {
    const app = this.tenant(tenantId).apps.get(clientId.toLowerCase());
    if (!app) throw new Error(`no app ${clientId}`);
    Object.assign(app, change);
  }

  addUser(tenantId: string, user: FakeUser): void {
    this.tenant(tenantId).users.set(user.username.toLowerCase(), { ...user });
  }

  /** The next `times` token requests (default 1; Infinity = until cleared) get this fault instead. */
  injectTokenFault(fault: TokenFault, times = 1): void {
    this.faults.push({ fault, remaining: times });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Token-endpoint requests only. */
  get tokenRequests(): AzureAdRequest[] {
    return this.requests.filter((r) => r.endpoint === 'token');
  }

  /**
   * The person at the browser: signs in at the verification page with `userCode` as `username`
   * (who must exist in the code's tenant). The device's next token poll then gets tokens.
   */
  approveDeviceCode(userCode: string, username: string): void {
    const grant = [...this.deviceCodes.values()].find((g) => g.userCode === userCode);
    if (!grant) throw new Error(`no pending device code with user code ${userCode}`);
    if (!this.tenant(grant.tenantId).users.has(username.toLowerCase())) throw new Error(`no user ${username} in ${grant.tenantId}`);
    grant.approvedBy = username;
  }

  /** Device codes requested and not yet redeemed (what a test reads the user code from). */
  get pendingDeviceCodes(): { userCode: string; clientId: string; scopes: string[] }[] {
    return [...this.deviceCodes.values()].filter((g) => !g.redeemed).map((g) => ({ userCode: g.userCode, clientId: g.clientId, scopes: g.scopes }));
  }

  /**
   * Every refresh token of `username` so far stops working: `expired` answers AADSTS700082 (inactive too
   * long), `revoked` AADSTS50173 (password reset, sessions revoked). Later sign-ins get working ones.
   */
  invalidateRefreshTokens(username: string, how: 'expired' | 'revoked'): void {
    for (const rt of this.refreshTokens.values()) if (rt.username.toLowerCase() === username.toLowerCase()) rt.state = how;
  }

  /** Every access token issued so far is refused by resource servers from now on. */
  revokeAllTokens(): void {
    for (const t of this.issued) t.revoked = true;
  }

  /** How a resource server (the Dataverse fake) checks a bearer token: known, unexpired, not revoked, right audience. */
  verifyAccessToken(accessToken: string, audience: string): TokenVerification {
    const token = this.issued.find((t) => t.accessToken === accessToken);
    if (!token) return { ok: false, reason: 'unknown' };
    if (token.revoked) return { ok: false, reason: 'revoked' };
    if (token.expiresAt <= Date.now()) return { ok: false, reason: 'expired' };
    if (token.audience.replace(/\/+$/, '').toLowerCase() !== audience.replace(/\/+$/, '').toLowerCase()) return { ok: false, reason: 'audience' };
    return { ok: true, token };
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private tenant(tenantId: string): FakeTenant {
    const t = this.tenants.get(tenantId.toLowerCase());
    if (!t) throw new Error(`no tenant ${tenantId}: call addTenant first`);
    return t;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.authorityHost);
    const raw = await new Promise<string>((resolve) => {
      let text = '';
      req.on('data', (d: Buffer) => { text += d.toString('utf8'); });
      req.on('end', () => resolve(text));
    });
    const segments = url.pathname.split('/').filter(Boolean);
    const tenantSegment = decodeURIComponent(segments[0] ?? '');
    const rest = segments.slice(1).join('/');
    const endpoint = rest === 'v2.0/.well-known/openid-configuration' ? 'openid-configuration'
      : rest === 'oauth2/v2.0/token' ? 'token' : rest === 'oauth2/v2.0/devicecode' ? 'devicecode' : 'other';
    const record: AzureAdRequest = {
      method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers,
      form: Object.fromEntries(new URLSearchParams(raw)), tenant: tenantSegment, endpoint,
    };
    this.requests.push(record);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      record.outcome = status;
      const aadsts = (body as { error_codes?: number[] }).error_codes?.[0];
      if (aadsts !== undefined) record.aadsts = aadsts;
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store, no-cache', ...headers });
      res.end(JSON.stringify(body));
    };
    const fail = (code: AadstsCode, ctx: Omit<AadstsContext, 'tenant'> = {}, headers: Record<string, string> = {}): void => {
      const { status, body } = aadstsBody(code, { tenant: tenantSegment, correlationId: record.query['client-request-id'], ...ctx });
      reply(status, body, headers);
    };

    if (endpoint === 'other') return reply(404, { error: 'not_found', error_description: `No such endpoint: ${url.pathname}` });
    const tenantProblem = this.tenantProblem(tenantSegment);
    if (endpoint === 'openid-configuration') {
      if (tenantProblem) return fail(tenantProblem);
      return reply(200, this.openIdConfiguration(tenantSegment));
    }
    if (req.method !== 'POST') return reply(405, { error: 'invalid_request', error_description: 'AADSTS900561: The endpoint only accepts POST requests.', error_codes: [900561] });

    const fault = this.takeFault();
    if (fault) {
      switch (fault.kind) {
        case 'aadsts': return fail(fault.code, { clientId: record.form.client_id, resource: resourceOf(record.form.scope), username: record.form.username });
        case 'throttle': return fail(90055, {}, { 'Retry-After': String(fault.retryAfterSeconds ?? 5) });
        case 'server-error': {
          const { body } = aadstsBody(50000, { tenant: tenantSegment });
          return reply(fault.status ?? 500, body);
        }
        case 'hang': record.outcome = 'hang'; return;
        case 'reset': record.outcome = 'reset'; req.socket.destroy(); return;
      }
    }
    if (tenantProblem) return fail(tenantProblem);
    if (endpoint === 'devicecode') return this.deviceCode(this.tenant(tenantSegment), record.form, reply, fail);
    this.token(this.tenant(tenantSegment), record.form, reply, fail);
  }

  private takeFault(): TokenFault | undefined {
    const next = this.faults[0];
    if (!next) return undefined;
    next.remaining -= 1;
    if (next.remaining <= 0) this.faults.shift();
    return next.fault;
  }

  /** A tenant segment Entra would refuse: malformed (AADSTS900023) or unknown (AADSTS90002). */
  private tenantProblem(tenant: string): AadstsCode | undefined {
    if (tenant === '') return 90019;
    if (!GUID.test(tenant) && !DNS_NAME.test(tenant)) return 900023;
    return this.tenants.has(tenant.toLowerCase()) ? undefined : 90002;
  }

  private openIdConfiguration(tenant: string): Record<string, unknown> {
    const base = `${this.authorityHost}/${tenant}`;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${this.authorityHost}/${tenant}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${base}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'oid', 'tid', 'preferred_username', 'name'],
      kerberos_endpoint: `${base}/kerberos`,
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
      rbac_url: 'https://pas.windows.net',
    };
  }

  /** RFC 8628 device authorization: a device code for the client, a short user code for the person. */
  private deviceCode(
    tenant: FakeTenant,
    form: Record<string, string>,
    reply: (status: number, body: unknown) => void,
    fail: (code: AadstsCode, ctx?: Omit<AadstsContext, 'tenant'>) => void,
  ): void {
    const clientId = form.client_id ?? '';
    const app = tenant.apps.get(clientId.toLowerCase());
    if (!app) return fail(700016, { clientId });
    const scopes = (form.scope ?? '').split(' ').filter(Boolean);
    if (!resourceOf(form.scope)) return fail(70011, { clientId });
    const deviceCode = `DAQABAAEAAA${randomBytes(24).toString('base64url')}`;
    const userCode = randomBytes(6).toString('hex').slice(0, 9).toUpperCase();
    this.deviceCodes.set(deviceCode, { tenantId: tenant.tenantId, clientId, scopes, userCode, expiresAt: Date.now() + 900_000, redeemed: false });
    const verificationUri = 'https://microsoft.com/devicelogin';
    return reply(200, {
      user_code: userCode, device_code: deviceCode, verification_uri: verificationUri, expires_in: 900, interval: 1,
      message: `To sign in, use a web browser to open the page ${verificationUri} and enter the code ${userCode} to authenticate.`,
    });
  }

  private token(
    tenant: FakeTenant,
    form: Record<string, string>,
    reply: (status: number, body: unknown) => void,
    fail: (code: AadstsCode, ctx?: Omit<AadstsContext, 'tenant'>) => void,
  ): void {
    const clientId = form.client_id ?? '';
    const scopes = (form.scope ?? '').split(' ').filter(Boolean);
    const resource = resourceOf(form.scope);
    const ctx = { clientId, resource, username: form.username };
    const grant = form.grant_type ?? '';
    if (!['client_credentials', 'password', 'refresh_token', ...DEVICE_CODE_GRANTS].includes(grant)) {
      return reply(400, { error: 'unsupported_grant_type', error_description: `AADSTS70003: The app requested an unsupported grant type '${grant}'.`, error_codes: [70003] });
    }
    const app = tenant.apps.get(clientId.toLowerCase());
    if (!app) return fail(700016, ctx);

    // Client authentication: a secret, when sent, must be valid; confidential apps must send one.
    const confidential = app.secret !== undefined && app.publicClient !== true;
    if (form.client_secret !== undefined) {
      if (app.secret === undefined || form.client_secret !== app.secret) return fail(7000215, ctx);
      if (app.secretExpired) return fail(7000222, ctx);
    } else if (confidential || grant === 'client_credentials') {
      return fail(7000218, ctx);
    }

    if (!resource || (tenant.resources && !tenant.resources.has(resource))) return fail(resource ? 500011 : 70011, ctx);

    if (grant === 'client_credentials') {
      if (scopes.length !== 1 || !scopes[0]!.endsWith('/.default')) return fail(70011, ctx);
      const token = this.issue(tenant, clientId, resource, scopes, grant, stableGuid(`sp:${tenant.tenantId}:${clientId}`));
      return reply(200, { token_type: 'Bearer', expires_in: this.lifetime, ext_expires_in: this.lifetime, access_token: token.accessToken });
    }

    let username: string;
    if (grant === 'password') {
      const user = tenant.users.get((form.username ?? '').toLowerCase());
      if (!user || user.password !== form.password) return fail(50126, ctx);
      if (user.mfaRequired) return fail(50076, ctx);
      if (!scopes.some((s) => s.endsWith('/user_impersonation') || s.endsWith('/.default'))) return fail(70011, ctx);
      username = user.username;
    } else if (DEVICE_CODE_GRANTS.includes(grant)) {
      const dc = this.deviceCodes.get(form.device_code ?? '');
      if (!dc || dc.redeemed || dc.clientId.toLowerCase() !== clientId.toLowerCase()) return fail(70000, ctx);
      if (dc.expiresAt <= Date.now()) return fail(70019, ctx);
      if (!dc.approvedBy) return fail(70016, ctx);
      dc.redeemed = true;
      username = dc.approvedBy;
    } else {
      const rt = this.refreshTokens.get(form.refresh_token ?? '');
      if (!rt || rt.clientId.toLowerCase() !== clientId.toLowerCase()) {
        return reply(400, { error: 'invalid_grant', error_description: 'AADSTS9002313: Invalid request. Request is malformed or invalid.', error_codes: [9002313], suberror: 'bad_token' });
      }
      if (rt.state === 'expired') return fail(700082, ctx);
      if (rt.state === 'revoked') return fail(50173, ctx);
      username = rt.username;
    }
    const user = tenant.users.get(username.toLowerCase())!;
    const oid = user.oid ?? stableGuid(`user:${tenant.tenantId}:${user.username}`);
    const token = this.issue(tenant, clientId, resource, scopes, grant, oid, user.username);
    const refreshToken = `0.rt.${randomBytes(24).toString('base64url')}`;
    this.refreshTokens.set(refreshToken, { tenantId: tenant.tenantId, clientId, username: user.username, state: 'valid' });
    const now = Math.floor(Date.now() / 1000);
    const idToken = [
      b64url({ typ: 'JWT', alg: 'RS256', kid: 'fake' }),
      b64url({
        aud: clientId, iss: `${this.authorityHost}/${tenant.tenantId}/v2.0`, iat: now, nbf: now, exp: now + 3600,
        name: user.username, oid, preferred_username: user.username, sub: stableGuid(`sub:${oid}`), tid: tenant.tenantId, ver: '2.0',
      }),
      randomBytes(16).toString('base64url'),
    ].join('.');
    return reply(200, {
      token_type: 'Bearer', scope: scopes.filter((s) => s.includes('/')).join(' '), expires_in: this.lifetime, ext_expires_in: this.lifetime,
      access_token: token.accessToken, refresh_token: refreshToken, id_token: idToken,
      client_info: b64url({ uid: oid, utid: tenant.tenantId }),
    });
  }

  private issue(tenant: FakeTenant, clientId: string, audience: string, scopes: string[], grantType: string, subject: string, username?: string): IssuedToken {
    const now = Math.floor(Date.now() / 1000);
    const accessToken = [
      b64url({ typ: 'JWT', alg: 'RS256', kid: 'fake' }),
      b64url({ aud: audience, iss: `${this.authorityHost}/${tenant.tenantId}/`, iat: now, nbf: now, exp: now + this.lifetime, appid: clientId, oid: subject, tid: tenant.tenantId, jti: randomUUID() }),
      randomBytes(32).toString('base64url'),
    ].join('.');
    const token: IssuedToken = {
      accessToken, tenantId: tenant.tenantId, clientId, audience, scopes, grantType, subject, username,
      expiresAt: Date.now() + this.lifetime * 1000, revoked: false,
    };
    this.issued.push(token);
    return token;
  }
}

/** RFC 8628's grant type, and the short form MSAL sends (Entra accepts both). */
const DEVICE_CODE_GRANTS = ['urn:ietf:params:oauth:grant-type:device_code', 'device_code'];

interface DeviceCodeGrant {
  tenantId: string;
  clientId: string;
  scopes: string[];
  userCode: string;
  expiresAt: number;
  approvedBy?: string;
  redeemed: boolean;
}

/** `https://org.crm.dynamics.com/.default openid` → `https://org.crm.dynamics.com`. */
function resourceOf(scope: string | undefined): string | undefined {
  for (const s of (scope ?? '').split(' ')) {
    const m = /^(https?:\/\/.+?)\/(\.default|user_impersonation)$/.exec(s);
    if (m) return m[1]!.replace(/\/+$/, '');
  }
  return undefined;
}
