import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Redis } from 'ioredis';
import { join } from 'node:path';
import { AzureAdServer } from '../fakes/azure-ad/index.js';
import { DataverseServer } from '../fakes/dataverse/index.js';
import { FakeMarketo } from '../fakes/marketo/index.js';
import { FakeSalesforce } from '../fakes/salesforce/index.js';
import { WebhookReceiver } from '../fakes/webhook-receiver/index.js';
import { freePort, RedisServer, uniquePrefix } from '../helpers/index.js';
import type { TlsCertPaths } from '../helpers/tls-cert.js';
import type { SecretValues } from './secret-values.js';

const TENANT = '3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b';
const APP_CLIENT = '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d';
const PUBLIC_CLIENT = '1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e';
const USERNAME = 'leadwriter@contoso.example';

/** The customer data of the leads this suite posts: distinctive, so a leak into info logs is found. */
export class Customers {
  readonly email: string;
  /** The lead Salesforce's validation rule rejects, quoting the email in its message. */
  readonly rejectedEmail: string;
  readonly lastName: string;

  constructor(readonly tag: string) {
    this.email = `pii-${tag}@customer.example`;
    this.rejectedEmail = `pii-rejected-${tag}@customer.example`;
    this.lastName = `Lovelace${tag}`;
  }
}

/**
 * Every destination type against fakes speaking its wire protocol, each in a working and a broken
 * variant (wrong credentials, rejections, throttling), on a password-protected redis-server of its own;
 * secrets reach the config through environment variables as an operator would pass them.
 */
export class SecretsWorld {
  readonly dir = mkdtempSync(join(tmpdir(), 'leadrelay-secrets-'));
  readonly configPath = join(this.dir, 'leadrelay.yaml');
  readonly table = uniquePrefix('SecretLeads').replace(/[^A-Za-z0-9]/g, '');
  ports = { intake: 0, ops: 0, worker: 0 };
  redis!: RedisServer;
  hookOk!: WebhookReceiver;
  hookReject!: WebhookReceiver;
  hookAuth!: WebhookReceiver;
  hookThrottle!: WebhookReceiver;
  alerts!: WebhookReceiver;
  ad!: AzureAdServer;
  dataverse!: DataverseServer;
  marketo!: FakeMarketo;
  salesforce!: FakeSalesforce;
  private readonly stops: (() => Promise<unknown>)[] = [];

  constructor(readonly secrets: SecretValues, readonly customers: Customers, private readonly azurite: string, private readonly tls: TlsCertPaths) {}

  async start(): Promise<void> {
    // Password-protected once it is up (the helper's readiness probe is an unauthenticated PING).
    this.redis = await RedisServer.start();
    this.stops.push(() => this.redis.destroy());
    const admin = new Redis(this.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await admin.connect();
    await admin.config('SET', 'requirepass', this.secrets.redisPassword);
    admin.disconnect();
    const receiver = async (options: Parameters<typeof WebhookReceiver.start>[0]) => {
      const r = await WebhookReceiver.start(options);
      this.stops.push(() => r.stop());
      return r;
    };
    this.hookOk = await receiver({ signingSecret: this.secrets.hookSigning, rejectInvalidSignatures: true });
    // A receiver that rejects the lead quoting the customer's email, as real receivers do.
    this.hookReject = await receiver({ defaultReply: { status: 422, body: { error: `duplicate lead: ${this.customers.email} already exists`, field: 'Email' } } });
    this.hookAuth = await receiver({ defaultReply: { status: 401, body: { error: 'invalid api key' } } });
    this.hookThrottle = await receiver({ defaultReply: { status: 429, headers: { 'Retry-After': '1' }, body: { error: 'slow down' } } });
    this.alerts = await receiver({ signingSecret: this.secrets.alertsSigning });

    this.ad = await AzureAdServer.start({ tls: { cert: readFileSync(this.tls.certPath, 'utf8'), key: readFileSync(this.tls.keyPath, 'utf8') } });
    this.stops.push(() => this.ad.close());
    this.ad.addTenant(TENANT);
    this.ad.addApp(TENANT, { clientId: APP_CLIENT, secret: this.secrets.dynamicsSecretOk });
    this.ad.addApp(TENANT, { clientId: PUBLIC_CLIENT, publicClient: true });
    this.ad.addUser(TENANT, { username: USERNAME, password: this.secrets.dynamicsPasswordOk });
    this.dataverse = await DataverseServer.start({ tokens: this.ad });
    this.stops.push(() => this.dataverse.close());

    this.marketo = await FakeMarketo.start({ clients: { 'leadrelay-service': this.secrets.marketoSecretOk } });
    this.stops.push(() => this.marketo.stop());

    this.salesforce = await FakeSalesforce.start({
      clientId: 'leadrelay-eca', clientSecret: this.secrets.salesforceSecretOk,
      validationRules: [{
        violated: (r) => String(r.Email ?? '') === this.customers.rejectedEmail,
        message: `Leads from ${this.customers.rejectedEmail} are blocked by rule Block_Competitors`, field: 'Email',
      }],
    });
    this.stops.push(() => this.salesforce.close());

    this.ports = { intake: await freePort(), ops: await freePort(), worker: await freePort() };
    writeFileSync(this.configPath, this.configYaml());
  }

  /** Destination id → how it is meant to end for an ordinary lead. */
  static readonly OUTCOMES = {
    'hook-ok': 'delivered', 'hook-reject': 'dead', 'hook-auth': 'paused', 'hook-throttle': 'dead',
    'table-ok': 'delivered', 'table-badkey': 'paused',
    'crm-ok': 'delivered', 'crm-badsecret': 'paused', 'crm-password': 'paused', 'crm-reject': 'dead',
    'mkto-ok': 'delivered', 'mkto-bad': 'paused',
    'sf-w2l': 'delivered', 'sf-api-ok': 'delivered', 'sf-api-bad': 'paused',
  } as const;

  private configYaml(): string {
    const s = this.secrets;
    const azurite = new URL(/TableEndpoint=([^;]+)/.exec(this.azurite)![1]!);
    const hookHeaders = '{ X-Api-Key: "${HOOK_HEADER_KEY}", Authorization: "Bearer ${HOOK_BEARER}" }';
    const hook = (id: string, r: WebhookReceiver, extra = '') => `
  - id: ${id}
    type: https
    url: "${r.url('/leads')}?sig=\${HOOK_URL_SIG}"
    signingSecret: "\${HOOK_SIGNING_SECRET}"
    headers: ${hookHeaders}
    timeout: 5s${extra}`;
    const dynamics = (id: string, auth: string, extra = '') => `
  - id: ${id}
    type: dynamics
    instanceUrl: "${this.dataverse.url}"
    auth: { ${auth}, tenantId: "${TENANT}", authorityHost: "${this.ad.authorityHost}" }
    retry: { maxThrottleWait: 1m } # an Entra ID or Dataverse 429 is waited out, never counted as the attempt${extra}`;
    const marketo = (id: string, secretVar: string) => `
  - id: ${id}
    type: marketo
    restUrl: "${this.marketo.url}"
    clientId: leadrelay-service
    clientSecret: "\${${secretVar}}"
    batchWait: 100ms`;
    const sfApi = (id: string, secretVar: string) => `
  - id: ${id}
    type: salesforce
    mode: api
    loginUrl: "${this.salesforce.url}"
    clientId: leadrelay-eca
    clientSecret: "\${${secretVar}}"`;
    return `# Every destination type, working and broken, for the secrets suite.
redis:
  url: "redis://:\${REDIS_PASSWORD}@127.0.0.1:${this.redis.port}"
  prefix: ${uniquePrefix('sec')}
intake:
  host: 127.0.0.1
  port: ${this.ports.intake}
  apiKeys: ["\${INTAKE_API_KEY}"]
ops:
  host: 127.0.0.1
  port: ${this.ports.ops}
  password: "\${OPS_PASSWORD}"
worker:
  host: 127.0.0.1
  metricsPort: ${this.ports.worker}
  shutdownTimeout: 3s
  lockDuration: 5s
retry: { attempts: 2, initialDelay: 100ms, maxDelay: 300ms, maxThrottleWait: 1s }
alerts:
  webhookUrl: "${this.alerts.url('/alerts')}"
  signingSecret: "\${ALERTS_SIGNING_SECRET}"
destinations:${hook('hook-ok', this.hookOk)}${hook('hook-reject', this.hookReject, '\n    match: { offers: ["contoso.pii"] }')}${hook('hook-auth', this.hookAuth)}${hook('hook-throttle', this.hookThrottle, '\n    retry: { attempts: 1 }')}
  - id: table-ok
    type: azure-table
    connectionString: "${this.azurite}"
    table: ${this.table}
    allowInsecure: true
  - id: table-badkey
    type: azure-table
    connectionString: "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=\${TABLE_BAD_ACCOUNT_KEY};TableEndpoint=http://${azurite.host}/devstoreaccount1;"
    table: ${this.table}Bad
    allowInsecure: true${dynamics('crm-ok', `mode: client-secret, clientId: "${APP_CLIENT}", clientSecret: "\${DYNAMICS_SECRET_OK}"`)}${dynamics('crm-badsecret', `mode: client-secret, clientId: "${APP_CLIENT}", clientSecret: "\${DYNAMICS_SECRET_BAD}"`)}${dynamics('crm-password', `mode: password, clientId: "${PUBLIC_CLIENT}", username: "${USERNAME}", password: "\${DYNAMICS_PASSWORD_BAD}"`)}${dynamics('crm-reject', `mode: client-secret, clientId: "${APP_CLIENT}", clientSecret: "\${DYNAMICS_SECRET_OK}"`, '\n    fields: { new_nosuchcolumn: "x" }')}${marketo('mkto-ok', 'MARKETO_SECRET_OK')}${marketo('mkto-bad', 'MARKETO_SECRET_BAD')}
  - id: sf-w2l
    type: salesforce
    mode: web-to-lead
    oid: ${this.salesforce.orgId}
    url: "${this.salesforce.webToLeadUrl}"${sfApi('sf-api-ok', 'SALESFORCE_SECRET_OK')}${sfApi('sf-api-bad', 'SALESFORCE_SECRET_BAD')}
`;
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.stops.reverse().map((s) => s()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
