import { createHash } from 'node:crypto';
import { Connection } from 'jsforce';
import { DeliveryError, InvalidConfigurationError, PayloadValidationError, RetryableError, SecretRedactor, type FieldValue, type Lead } from '@leadrelay/core';
import type { CheckResult, CommonDestinationSettings, DeliverOptions, Delivered, DestinationClient, DestinationContext } from '../destination.js';
import { SharedToken, abortable, fitToLengths, proxyFor } from '../shared/index.js';
import { disableJsforceEnvProxy } from './jsforce-proxy.js';
import { restLeadRecord } from './salesforce-mapping.js';
import { classifyApiErrors, classifySalesforceFailure, classifyTokenError, isSessionRejected, type SalesforceApiErrorItem, type Scrub } from './salesforce-errors.js';
import { readLeadDescribe, type LeadDescribe } from './salesforce-lead-describe.js';
import type { SalesforceSettings } from './settings.js';

export interface SalesforceRestClientOptions {
  /**
   * Longest wait for one Salesforce call (token, create, describe), in ms. Default 60 000.
   * jsforce itself waits up to 30 minutes and takes no per-call timeout, so we bound the wait here.
   */
  timeoutMs?: number;
}


/**
 * Salesforce REST API with the real jsforce (README: Destinations → Salesforce, REST): OAuth 2.0 client credentials of an
 * external client app (its run-as user owns the leads), then `sobject('Lead').create`.
 *
 * Token reuse and 401s: we authorize once and share the token across concurrent deliveries. On a
 * 401 (INVALID_SESSION_ID) we request one new token, shared by every call that saw the old one
 * fail, and retry the call once; a second 401 is a configuration error.
 *
 * jsforce's own 401 handling is deliberately off. A Connection whose `oauth2` has a clientId gets a
 * refresh delegate: on any 401 jsforce refreshes and re-sends the request, again on every 401, with
 * no bound of its own; with client credentials there is no refresh token, so its default refresher
 * only fails with "No refresh token found". Leaving clientId/clientSecret out of the Connection's
 * `oauth2` (they go in the client-credentials grant instead, which is the same POST on the wire)
 * means jsforce installs no delegate and a 401 comes back to us as its `HttpApiError`
 * (`INVALID_SESSION_ID` with Salesforce's message), so the retry count is ours alone.
 */
export class SalesforceRestClient implements DestinationClient {
  private readonly conn: Connection;
  private readonly redactor = new SecretRedactor();
  private readonly scrub: Scrub = (t) => this.redactor.redact(t);
  private readonly timeoutMs: number;
  /** Salesforce sessions have no expiry we are told of: the token is renewed when the API refuses it. */
  private readonly token = new SharedToken(() => this.authorize());
  private described?: Promise<LeadDescribe>;

  constructor(
    private readonly settings: SalesforceSettings & CommonDestinationSettings,
    private readonly ctx: DestinationContext,
    options: SalesforceRestClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.redactor.add(settings.clientSecret);
    // logLevel NONE whatever JSFORCE_LOG_LEVEL says: jsforce's debug output includes response bodies.
    // jsforce reads HTTPS_PROXY itself but not NO_PROXY, and only through its own defaults: our decision is made
    // once for the login host (the org's instance is in the same domain) and given to it, with `undefined` kept
    // from falling back to the environment by clearing jsforce's default (see disableJsforceEnvProxy).
    disableJsforceEnvProxy();
    const httpProxy = proxyFor(settings.loginUrl ?? 'https://login.salesforce.com', ctx.network);
    this.conn = new Connection({
      loginUrl: settings.loginUrl, oauth2: { loginUrl: settings.loginUrl },
      version: settings.apiVersion, logLevel: 'NONE', ...(httpProxy ? { httpProxy } : {}),
    });
  }

  deliver(lead: Lead, options: DeliverOptions = {}): Promise<Delivered> {
    return abortable(this.deliverOne(lead), options.signal, `Salesforce (${this.settings.id})`);
  }

  private async deliverOne(lead: Lead): Promise<Delivered> {
    const described = await this.describe();
    const { record: mapped, warnings } = restLeadRecord(lead, {
      placeholder: this.ctx.placeholder, fields: this.settings.fields,
      countryPicklists: this.countryPicklists(described), leadSourceMap: this.settings.leadSource.map,
    });
    this.fitLeadSource(mapped, described, warnings);
    const { record, warnings: cut } = fitToLengths(mapped, described.lengths, 'Salesforce Lead', { leaveOut: ['Email'] });
    warnings.push(...cut);
    const ext = this.settings.externalIdField;
    const result = ext
      ? await this.call(() => this.conn.sobject('Lead').upsert({ ...record, [ext]: externalIdValue(lead.id) }, ext), 'the Lead upsert')
      : await this.call(() => this.conn.sobject('Lead').create(record), 'the Lead create');
    const one = (Array.isArray(result) ? result[0] : result) as { id?: string; success?: boolean; errors?: unknown[] } | undefined;
    if (!one || typeof one !== 'object' || !('success' in one)) {
      // HTTP 300: several Leads hold this external id (the field is not Unique); nothing was written.
      throw new PayloadValidationError(`Salesforce found several Leads with ${ext} = ${externalIdValue(lead.id)}; nothing was written`, {
        destinationCode: 'MULTIPLE_CHOICES', status: 300,
        remediation: `Mark ${ext} as Unique on Lead (Setup → Object Manager → Lead → Fields & Relationships → ${ext} → Edit), merge the duplicate Leads, then \`leadrelay dlq replay --id <leadId>\`.`,
      });
    }
    // An update on API versions before 46.0 answers 204: success without an id.
    if (!one.success || (!one.id && !ext)) {
      throw classifyApiErrors((one.errors?.length ? one.errors : [{ errorCode: 'UNKNOWN', message: 'the write returned success=false without errors' }]) as SalesforceApiErrorItem[], this.scrub);
    }
    return { ...(one.id ? { remoteId: one.id } : {}), ...(warnings.length ? { warnings } : {}) };
  }

  /**
   * Gets a token and describes Lead (read-only): proves credentials, API access and that the run-as user may
   * create leads; then checks the external-ID field, the LeadSource picklist and the country picklists.
   */
  async check(): Promise<CheckResult> {
    try {
      this.described = undefined; // a check always reads the org as it is now
      const d = await this.describe();
      const who = this.conn.userInfo ? ` (org ${this.conn.userInfo.organizationId}, run-as user ${this.conn.userInfo.id})` : '';
      if (!d.createable) {
        return {
          ok: false, message: `Authorized with client credentials${who}, but the run-as user cannot create leads`,
          remediation: 'Give the external client app\'s run-as user Create on Lead (profile or permission set), then run `leadrelay check` again.',
        };
      }
      const warnings: string[] = [];
      const ext = this.settings.externalIdField;
      const howToCreate = `create it: Setup → Object Manager → Lead → Fields & Relationships → New → Text (length 80) → Field Name ${ext ? ext.replace(/__c$/, '') : 'LeadRelay_Id'}, tick "Unique" (case sensitive) and "External ID", give the run-as user edit access, then set externalIdField: ${ext ?? 'LeadRelay_Id__c'}`;
      if (!ext) {
        warnings.push(`No externalIdField: leads are created with POST, so a retry after a lost answer or a worker crash may create a second Lead. To make retries safe, ${howToCreate}.`);
      } else {
        const f = d.fields.get(ext);
        if (!f) return { ok: false, message: `Lead has no field ${ext} that the run-as user can see`, remediation: `Check the API name and its field-level security, or ${howToCreate}. Then run \`leadrelay check\` again.` };
        if (!f.externalId) return { ok: false, message: `Lead.${ext} is not marked External ID: Salesforce cannot upsert on it`, remediation: `Edit the field (Setup → Object Manager → Lead → Fields & Relationships → ${ext} → Edit), tick "External ID" and "Unique", then run \`leadrelay check\` again.` };
        if (!f.unique) warnings.push(`Lead.${ext} is External ID but not Unique: two Leads with one value make every later upsert of that lead fail (HTTP 300). Edit the field and tick "Unique".`);
        if (f.createable === false) return { ok: false, message: `The run-as user cannot write Lead.${ext}`, remediation: `Give the run-as user edit access to ${ext} (field-level security), then run \`leadrelay check\` again.` };
      }
      const sources = this.leadSourceProblems(d);
      if (sources) {
        if (sources.fallbackInvalid) return { ok: false, message: `leadSource.fallback '${this.settings.leadSource.fallback}' is not a value of the restricted LeadSource picklist`, remediation: `Set leadSource.fallback to one of: ${[...d.restrictedLeadSources!].join(', ')}; or add the value to the picklist. Then run \`leadrelay check\` again.` };
        warnings.push(sources.warning);
      }
      const picklists = this.countryPicklists(d);
      const parts = [
        `Authorized with client credentials${who}; Lead is createable through REST API v${this.settings.apiVersion}`,
        ext ? `leads are upserted on ${ext} (External ID${d.fields.get(ext)!.unique ? ', Unique' : ''})` : 'leads are created (no externalIdField)',
        picklists ? 'State and Country/Territory Picklists are on: countries go as ISO codes in CountryCode' : 'countries go to Country as received',
        `field lengths read from the describe (FirstName ${d.lengths.FirstName}, LastName ${d.lengths.LastName}, Company ${d.lengths.Company}); longer values are truncated`,
        d.restrictedLeadSources ? `LeadSource is a restricted picklist (${d.restrictedLeadSources.size} values)` : 'LeadSource accepts any value',
      ];
      return { ok: true, message: parts.join('; '), ...(warnings.length ? { warnings } : {}) };
    } catch (e) {
      const err = e instanceof DeliveryError ? e : classifySalesforceFailure(e, this.scrub);
      return { ok: false, message: err.message, remediation: err.remediation };
    }
  }

  /** The Lead describe, read once and shared (a failed read is read again next time). */
  private describe(): Promise<LeadDescribe> {
    if (!this.described) {
      const reading = this.call(() => this.conn.sobject('Lead').describe(), 'the Lead describe').then((raw) => readLeadDescribe(raw as never));
      this.described = reading;
      reading.catch(() => { if (this.described === reading) this.described = undefined; });
    }
    return this.described;
  }

  private countryPicklists(d: LeadDescribe): boolean {
    const setting = this.settings.countryPicklists;
    return setting === 'auto' ? d.countryPicklists : setting === 'on';
  }

  /** A LeadSource the restricted picklist would refuse becomes the fallback, or is left out; never a dead lead. */
  private fitLeadSource(record: Record<string, FieldValue>, d: LeadDescribe, warnings: string[]): void {
    const allowed = d.restrictedLeadSources;
    const value = record.LeadSource;
    if (!allowed || typeof value !== 'string' || allowed.has(value)) return;
    const fallback = this.settings.leadSource.fallback;
    if (fallback && allowed.has(fallback)) {
      record.LeadSource = fallback;
      warnings.push(`Salesforce LeadSource is a restricted picklist without this lead's value: sent leadSource.fallback '${fallback}'`);
    } else {
      delete record.LeadSource;
      warnings.push('Salesforce LeadSource is a restricted picklist without this lead\'s value and no usable leadSource.fallback: LeadSource left empty');
    }
  }

  /** What check says about a restricted LeadSource picklist; undefined when every lead's value fits. */
  private leadSourceProblems(d: LeadDescribe): { warning: string; fallbackInvalid: boolean } | undefined {
    const allowed = d.restrictedLeadSources;
    if (!allowed) return undefined;
    const { map, fallback } = this.settings.leadSource;
    const fallbackInvalid = !!fallback && !allowed.has(fallback);
    const sources = ['AzureMarketplace', 'AzurePortal', 'SPZA', 'TestDrive'];
    const unmapped = sources.filter((s) => !map[s] || !allowed.has(map[s]!));
    const badMapped = Object.entries(map).filter(([, v]) => !allowed.has(v)).map(([k, v]) => `${k} → '${v}'`);
    if (!fallbackInvalid && unmapped.length === 0 && badMapped.length === 0) return undefined;
    const values = [...allowed].slice(0, 20).join(', ');
    return {
      fallbackInvalid,
      warning: `LeadSource is a restricted picklist (values: ${values}). `
        + (badMapped.length ? `Mapped values not in it: ${badMapped.join(', ')}. ` : '')
        + (unmapped.length ? `Lead sources without a picklist value in leadSource.map: ${unmapped.join(', ')} (they would send 'Source-Action|Offer'). ` : '')
        + (fallback && !fallbackInvalid ? `Those leads get leadSource.fallback '${fallback}'.` : 'Those leads are delivered with LeadSource empty: set leadSource.map or leadSource.fallback to picklist values.'),
    };
  }

  async close(): Promise<void> {
    this.token.clear();
  }

  /** Runs one REST call with the shared token; on a 401, once more with a fresh token. Throws classified errors. */
  private async call<T>(fn: () => Promise<T>, what: string): Promise<T> {
    try {
      // A second INVALID_SESSION_ID comes out of withToken as is and becomes a configuration error below.
      return await this.token.withToken(() => this.withTimeout(fn(), what), { error: isSessionRejected });
    } catch (e) {
      if (e instanceof DeliveryError) throw e;
      throw classifySalesforceFailure(e, this.scrub);
    }
  }

  private async authorize(): Promise<{ token: string }> {
    const { loginUrl, clientId, clientSecret } = this.settings;
    if (!loginUrl || !clientId || !clientSecret) {
      // The config validator already demands these; this guards a hand-built settings object.
      throw new InvalidConfigurationError('Salesforce mode api needs loginUrl, clientId and clientSecret', {
        remediation: 'Set loginUrl (the org\'s My Domain), clientId and clientSecret (the external client app\'s Consumer Key and Secret), then `leadrelay resume <destination>`.',
      });
    }
    try {
      await this.withTimeout(this.conn.authorize({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }), 'the token request');
    } catch (e) {
      throw classifyTokenError(e, this.scrub);
    }
    this.redactor.add(this.conn.accessToken ?? undefined);
    return { token: this.conn.accessToken ?? '' };
  }

  private withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RetryableError(`Salesforce did not answer ${what} within ${Math.round(this.timeoutMs / 1000)} s`, { destinationCode: 'TIMEOUT' })), this.timeoutMs);
    });
    promise.catch(() => undefined); // an abandoned call may still fail later; nobody is waiting for it
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}

/**
 * The external-ID value of a lead: its id. jsforce puts the value into the URL path unencoded, so an id with
 * characters a path cannot carry (or longer than the 80 characters the field is created with) is replaced by a
 * stable hash of it.
 */
export function externalIdValue(leadId: string): string {
  return /^[A-Za-z0-9._~-]{1,80}$/.test(leadId) ? leadId : `lr_${createHash('sha256').update(leadId).digest('hex').slice(0, 40)}`;
}
