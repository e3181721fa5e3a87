import { type AxiosInstance } from 'axios';
import { classifyError, InvalidConfigurationError, isDeliveryError, type Lead } from '@leadrelay/core';
import type { CheckResult, CommonDestinationSettings, DeliverOptions, Delivered, DestinationClient, DestinationContext } from '../destination.js';
import {
  classifyDynamicsFailure, classifyDataverseNetworkFailure, looksLikeHtml, notDataverseRemediation, parseODataError,
  type DataverseFailureContext, type DataverseReply,
} from './dynamics-errors.js';
import { mapLeadToDynamics } from './dynamics-mapping.js';
import { DynamicsTokenProvider, environmentUrl } from './dynamics-token-provider.js';
import { leadRecordId } from './lead-record-id.js';
import type { DynamicsSettings } from './settings.js';
import { abortable, createDestinationHttp, type DestinationHttp } from '../shared/index.js';

/** Dataverse's 412 for a create-only write whose record exists ("A record with matching key values already exists"). */
function isAlreadyExists(reply: DataverseReply): boolean {
  // Not duplicate detection's 0x80040333 ("a duplicate of the current record already exists"): that is another record.
  const code = parseODataError(reply.body)?.code?.toLowerCase();
  return code === '0x80040237' || (code === undefined && /matching key values already exists/i.test(reply.body));
}

export interface DynamicsClientOptions {
  /** Timeout of each Web API call and of each token request, in ms. Default 30 000. */
  timeoutMs?: number;
}

/** Headers every Dataverse Web API request carries: Accept JSON, OData-MaxVersion and OData-Version 4.0. */
const ODATA_HEADERS = {
  Accept: 'application/json',
  'OData-MaxVersion': '4.0',
  'OData-Version': '4.0',
} as const;

/**
 * Dynamics 365 / Dataverse destination (README: Destinations → Dynamics 365). Each lead is upserted with
 * `PATCH <env>/api/data/v<apiVersion>/leads(<uuid v5 of the lead id>)`, so a retried lead updates the same record
 * instead of creating a duplicate. Tokens come from one MSAL application per destination (cached); a 401 gets one
 * fresh token and one retry. Failures are classified in dynamics-errors.ts / dynamics-token-errors.ts.
 */
export class DynamicsClient implements DestinationClient {
  private readonly env: string;
  private readonly apiBase: string;
  private readonly http: AxiosInstance;
  private readonly web: DestinationHttp;
  private readonly tokens: DynamicsTokenProvider;

  constructor(
    private readonly settings: DynamicsSettings & CommonDestinationSettings,
    private readonly ctx: DestinationContext,
    options: DynamicsClientOptions = {},
  ) {
    const timeout = options.timeoutMs ?? 30_000;
    this.env = environmentUrl(settings.instanceUrl);
    this.apiBase = `${this.env}/api/data/v${settings.apiVersion}`;
    this.tokens = new DynamicsTokenProvider(settings.auth, settings.instanceUrl, { timeoutMs: timeout, logger: ctx.logger, network: ctx.network });
    // A redirect means instanceUrl is not the Web API (see createDestinationHttp).
    this.web = createDestinationHttp({ timeoutMs: timeout, network: ctx.network });
    this.http = this.web.http;
  }

  deliver(lead: Lead, options: DeliverOptions = {}): Promise<Delivered> {
    return abortable(this.deliverOne(lead), options.signal, `Dynamics 365 (${this.settings.id})`);
  }

  private async deliverOne(lead: Lead): Promise<Delivered> {
    const id = leadRecordId(lead.id);
    const { record, warnings } = mapLeadToDynamics(lead, this.settings, this.ctx.placeholder);
    // create-only: `If-None-Match: *` makes the PATCH a create that answers 412 when the record exists. The record id
    // is derived from the lead id, so an existing record is this lead from an attempt whose answer was lost: delivered.
    // This needs only prvCreateLead; a plain upsert that finds the record becomes an update and needs prvWriteLead too.
    // (The "If-None-Match: null" of Microsoft's header list is a GET cache-buster and has no place on a write.)
    const createOnly = this.settings.writeMode === 'create-only';
    const reply = await this.call('PATCH', `${this.apiBase}/leads(${id})`, `PATCH leads(${id})`, record, createOnly ? { 'If-None-Match': '*' } : {});
    const already = reply.status === 412;
    this.ctx.logger.debug({ leadId: lead.id, destination: this.settings.id, recordId: id, already }, already ? 'dynamics lead already there' : 'dynamics lead written');
    return { remoteId: id, ...(warnings.length ? { warnings } : {}) };
  }

  async close(): Promise<void> {
    this.web.close();
    this.tokens.close();
  }

  async check(): Promise<CheckResult> {
    try {
      const reply = await this.call('GET', `${this.apiBase}/WhoAmI`, 'GET WhoAmI');
      let who: { UserId?: string; OrganizationId?: string } = {};
      try {
        who = JSON.parse(reply.body) as typeof who;
      } catch {
        // handled below
      }
      if (!who.UserId) {
        throw new InvalidConfigurationError(`${this.env} answered WhoAmI without a UserId`, {
          remediation: notDataverseRemediation(this.failureContext('GET WhoAmI'), 'answered WhoAmI without Dataverse\'s reply'),
        });
      }
      const createOnly = this.settings.writeMode === 'create-only';
      return {
        ok: true,
        message: `Signed in to ${this.env} with ${this.settings.auth.mode === 'password' ? `user ${this.settings.auth.username}` : `application ${this.settings.auth.clientId}`} `
          + `(WhoAmI UserId ${who.UserId}, OrganizationId ${who.OrganizationId ?? 'unknown'}); no lead was created. `
          + (createOnly
            ? 'writeMode create-only: each lead is created with If-None-Match: * and a 412 on a retry counts as delivered, so the role needs Create on Lead (prvCreateLead) only.'
            : 'writeMode upsert: a retry whose first try created the record becomes an update, so the role needs Create and Write on Lead (prvCreateLead and prvWriteLead).'),
      };
    } catch (err) {
      const e = classifyError(err);
      // A retry is the engine's remedy for deliveries; a person running `check` needs to know what to look at.
      const remediation = e.kind === 'transient' || e.kind === 'throttled'
        ? `Temporary failure: check that ${this.env} and the Microsoft Entra ID authority (auth.authorityHost) are reachable from this machine, then run the check again.`
        : e.remediation;
      return { ok: false, message: e.message, remediation };
    }
  }

  /** One Web API call with a token; a 401 gets one fresh token and one retry. Returns 2xx replies, throws the rest classified. */
  private async call(method: 'GET' | 'PATCH', url: string, operation: string, data?: unknown, headers: Record<string, string> = {}): Promise<DataverseReply> {
    const reply = await this.tokens.withToken((token) => this.send(method, url, operation, token, data, headers), { result: (r) => r.status === 401 });
    // A create-only write that finds the record: an earlier attempt created it (see deliver).
    if (reply.status === 412 && headers['If-None-Match'] === '*' && isAlreadyExists(reply)) return reply;
    if (reply.status >= 200 && reply.status < 300) {
      if (looksLikeHtml(reply)) {
        throw new InvalidConfigurationError(`${operation} at ${this.env} answered HTTP ${reply.status} with a web page instead of the Web API`, {
          status: reply.status, destinationCode: String(reply.status),
          remediation: notDataverseRemediation(this.failureContext(operation), 'answered with an HTML page'),
        });
      }
      return reply;
    }
    throw classifyDynamicsFailure(reply, this.failureContext(operation));
  }

  private async send(method: 'GET' | 'PATCH', url: string, operation: string, token: string, data?: unknown, extra: Record<string, string> = {}): Promise<DataverseReply> {
    try {
      const res = await this.http.request<string>({
        method, url,
        headers: {
          ...ODATA_HEADERS,
          Authorization: `Bearer ${token}`,
          ...(method === 'GET' ? { 'If-None-Match': 'null' } : { 'Content-Type': 'application/json; charset=utf-8' }),
          ...extra,
        },
        ...(data === undefined ? {} : { data: JSON.stringify(data) }),
      });
      return { status: res.status, headers: res.headers as Record<string, unknown>, body: typeof res.data === 'string' ? res.data : '' };
    } catch (err) {
      if (isDeliveryError(err)) throw err;
      const e = err as { code?: string; message?: string };
      const code = e.code === 'ECONNABORTED' ? 'ETIMEDOUT' : e.code;
      throw classifyDataverseNetworkFailure(code, e.message ?? String(err), this.failureContext(operation));
    }
  }

  private failureContext(operation: string): DataverseFailureContext {
    const auth = this.settings.auth;
    return { instanceUrl: this.env, mode: auth.mode, clientId: auth.clientId, username: auth.mode === 'password' ? auth.username : undefined, operation };
  }
}
