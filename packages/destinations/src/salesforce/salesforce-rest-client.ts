import { Connection } from 'jsforce';
import { DeliveryError, InvalidConfigurationError, RetryableError, SecretRedactor, type Lead } from '@leadrelay/core';
import type { CheckResult, CommonDestinationSettings, Delivered, DestinationClient, DestinationContext } from '../destination.js';
import { SharedToken } from '../shared/index.js';
import { restLeadRecord } from './salesforce-mapping.js';
import { classifyApiErrors, classifySalesforceFailure, classifyTokenError, isSessionRejected, type Scrub } from './salesforce-errors.js';
import type { SalesforceSettings } from './settings.js';

export interface SalesforceRestClientOptions {
  /**
   * Longest wait for one Salesforce call (token, create, describe), in ms. Default 60 000.
   * jsforce itself waits up to 30 minutes and takes no per-call timeout, so we bound the wait here.
   */
  timeoutMs?: number;
}


/**
 * Salesforce REST API with the real jsforce (reference §4.3): OAuth 2.0 client credentials of an
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

  constructor(
    private readonly settings: SalesforceSettings & CommonDestinationSettings,
    private readonly ctx: DestinationContext,
    options: SalesforceRestClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.redactor.add(settings.clientSecret);
    // logLevel NONE whatever JSFORCE_LOG_LEVEL says: jsforce's debug output includes response bodies.
    this.conn = new Connection({ loginUrl: settings.loginUrl, oauth2: { loginUrl: settings.loginUrl }, version: settings.apiVersion, logLevel: 'NONE' });
  }

  async deliver(lead: Lead): Promise<Delivered> {
    const record = restLeadRecord(lead, { placeholder: this.ctx.placeholder, fields: this.settings.fields });
    const result = await this.call(() => this.conn.sobject('Lead').create(record), 'the Lead create');
    if (!result.success || !result.id) {
      throw classifyApiErrors(result.errors?.length ? result.errors : [{ errorCode: 'UNKNOWN', message: 'create returned success=false without errors' }], this.scrub);
    }
    return { remoteId: result.id };
  }

  /** Gets a token and describes Lead (read-only): proves credentials, API access and that the run-as user may create leads. */
  async check(): Promise<CheckResult> {
    try {
      const lead = await this.call(() => this.conn.sobject('Lead').describe(), 'the Lead describe');
      const who = this.conn.userInfo ? ` (org ${this.conn.userInfo.organizationId}, run-as user ${this.conn.userInfo.id})` : '';
      if (!lead.createable) {
        return {
          ok: false, message: `Authorized with client credentials${who}, but the run-as user cannot create leads`,
          remediation: 'Give the external client app\'s run-as user Create on Lead (profile or permission set), then run `leadrelay check` again.',
        };
      }
      return { ok: true, message: `Authorized with client credentials${who}; Lead is createable through REST API v${this.settings.apiVersion}` };
    } catch (e) {
      const err = e instanceof DeliveryError ? e : classifySalesforceFailure(e, this.scrub);
      return { ok: false, message: err.message, remediation: err.remediation };
    }
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
