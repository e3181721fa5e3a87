import { type AxiosInstance, type AxiosResponse } from 'axios';
import { InvalidConfigurationError, ThrottledError, type Lead } from '@leadrelay/core';
import type { CheckResult, CommonDestinationSettings, DeliverOptions, Delivered, DestinationClient, DestinationContext, RollingQuota } from '../destination.js';
import { abortable, classifyHttpFailure, networkFailure, createDestinationHttp, fitToLengths, type DestinationHttp } from '../shared/index.js';
import { WEB_TO_LEAD_LENGTHS, webToLeadForm } from './salesforce-mapping.js';
import { normaliseOid, type SalesforceSettings } from './settings.js';

export const WEB_TO_LEAD_WINDOW_MS = 24 * 60 * 60_000;

export interface SalesforceWebToLeadClientOptions {
  /** Per-request timeout in ms. Default 30 000. */
  timeoutMs?: number;
}

/**
 * Salesforce Web-to-Lead: the form POST Microsoft's own connector makes: `application/x-www-form-urlencoded` to servlet.WebToLead (README: Destinations → Salesforce).
 *
 * Web-to-Lead NEVER reports failure: the servlet answers 200 whether or not a lead was created.
 * A 200 is therefore all "delivered" can mean here. When leads don't show up, check in Salesforce:
 * - Web-to-Lead is enabled and a Default Lead Creator is set (Setup → Web-to-Lead); without one,
 *   or with a wrong `oid`, Salesforce only emails its own support;
 * - the form was generated with "Include reCAPTCHA in HTML" cleared (a captcha-protected form drops our posts);
 * - no Lead field is mandatory and picklist-based (Microsoft's list: use a non-mandatory text field);
 * - validation rules and duplicate rules (Block, or Allow with alert) silently block the save;
 * - the 500-per-24 h limit: beyond it Salesforce parks requests in a hidden pending queue. We keep
 *   `dailyLimit` (default 500) in a rolling 24 h ourselves, so extra leads wait in our queue, visible
 *   as `delayed`, and never reach that queue.
 * `mode: api` is the alternative that does report errors.
 */
export class SalesforceWebToLeadClient implements DestinationClient {
  private readonly http: AxiosInstance;
  private readonly web: DestinationHttp;
  private readonly quota: RollingQuota;
  private readonly limit: number;

  constructor(
    private readonly settings: SalesforceSettings & CommonDestinationSettings,
    private readonly ctx: DestinationContext,
    options: SalesforceWebToLeadClientOptions = {},
  ) {
    this.limit = settings.dailyLimit;
    this.quota = ctx.rollingQuota('web-to-lead', this.limit, WEB_TO_LEAD_WINDOW_MS);
    this.web = createDestinationHttp({ timeoutMs: options.timeoutMs ?? 30_000, network: ctx.network });
    this.http = this.web.http;
  }

  deliver(lead: Lead, options: DeliverOptions = {}): Promise<Delivered> {
    return abortable(this.deliverOne(lead), options.signal, `Salesforce Web-to-Lead (${this.settings.id})`);
  }

  private async deliverOne(lead: Lead): Promise<Delivered> {
    const oid = this.oid();
    const mapped = webToLeadForm(lead, oid, {
      placeholder: this.ctx.placeholder, fields: this.settings.fields,
      // No describe over Web-to-Lead: `auto` means on, as in new orgs.
      countryPicklists: this.settings.countryPicklists !== 'off', leadSourceMap: this.settings.leadSource.map,
    });
    // Web-to-Lead drops an invalid lead without a word, so values are cut to the new-org lengths before sending
    // (an over-long email is left out: cut, it would be another address).
    const fitted = fitToLengths(Object.fromEntries(mapped.record), WEB_TO_LEAD_LENGTHS, 'Salesforce Web-to-Lead', { leaveOut: ['email'] });
    const record = fitted.record;
    const warnings = [...mapped.warnings, ...fitted.warnings];
    const body = new URLSearchParams(record).toString();
    // One use per POST, taken before sending: a POST that fails on the wire may still have reached Salesforce.
    const slot = await this.quota.take();
    if (!slot.ok) {
      // A rolling window frees its oldest use at most one window after it was taken, so this wait never exceeds 24 h.
      throw new ThrottledError(
        `Web-to-Lead daily limit reached: ${this.limit} requests in the last 24 h; the next one frees in ${formatWait(slot.retryAfterMs)}`,
        Math.min(slot.retryAfterMs, WEB_TO_LEAD_WINDOW_MS),
        { destinationCode: 'WEB_TO_LEAD_DAILY_LIMIT', quotaReset: true, remediation: `None needed: leads over the limit wait in LeadRelay's queue until a slot frees. Salesforce allows 500 Web-to-Lead requests per 24 h; if you have a higher allowance raise dailyLimit, or use mode: api.` },
      );
    }
    const res = await this.send(() => this.http.post(this.settings.url, body, { headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' } }));
    if (res.status >= 200 && res.status < 300) return warnings.length ? { warnings } : {};
    throw this.failure(res);
  }

  /**
   * Proves the oid format and that the servlet answers, without creating a lead: a GET of the
   * servlet URL with no form fields and no oid cannot create one (no org to create it in).
   */
  async close(): Promise<void> {
    this.web.close();
  }

  async check(): Promise<CheckResult> {
    if (!normaliseOid(this.settings.oid)) {
      return {
        ok: false, message: `oid '${this.settings.oid ?? ''}' is not a Salesforce organization id`,
        remediation: 'Set oid to the Organization ID from Salesforce Setup → Company Information (00D followed by 12 or 15 letters and digits), the value of the hidden `oid` input of a generated Web-to-Lead form.',
      };
    }
    try {
      const res = await this.send(() => this.http.get(this.settings.url));
      if (res.status < 200 || res.status >= 300) {
        const e = this.failure(res);
        return { ok: false, message: e.message, remediation: e.remediation };
      }
      const left = await this.quota.remaining();
      return {
        ok: true,
        message: `Web-to-Lead endpoint answered HTTP ${res.status}; oid ${normaliseOid(this.settings.oid)} (15-character form); ${left} of ${this.limit} daily requests left; `
          + (this.settings.countryPicklists === 'off' ? 'countries go to country as received; ' : 'countries go as ISO codes in country_code (State and Country picklists assumed on); ')
          + 'values longer than a new org\'s Lead fields are truncated. Web-to-Lead never reports failure: send `leadrelay test-lead` and look for the MSFT_TEST lead in Salesforce.',
        warnings: ['Web-to-Lead cannot upsert: a retry after a lost answer can create a second Lead (mode: api with externalIdField cannot).'],
      };
    } catch (e) {
      const err = e as { message: string; remediation?: string };
      return { ok: false, message: err.message, remediation: err.remediation };
    }
  }

  /** The 15-character org id generated forms carry, whichever form was configured. */
  private oid(): string {
    const oid = normaliseOid(this.settings.oid);
    if (!oid) {
      throw new InvalidConfigurationError(`Web-to-Lead oid '${oid ?? ''}' is not a Salesforce organization id`, {
        destinationCode: 'INVALID_OID',
        remediation: 'Set oid to the Organization ID from Salesforce Setup → Company Information (00D followed by 12 or 15 letters and digits; an 18-character id must end in its own 3-character suffix), then `leadrelay resume <destination>`.',
      });
    }
    return oid;
  }

  private async send(call: () => Promise<AxiosResponse<string>>): Promise<AxiosResponse<string>> {
    try {
      return await call();
    } catch (e) {
      const err = e as { code?: string; message?: string };
      throw networkFailure('Salesforce Web-to-Lead', err.code, err.message ?? String(e));
    }
  }

  private failure(res: AxiosResponse<string>) {
    if (res.status >= 300 && res.status < 400) {
      const to = res.headers.location ? ` to ${String(res.headers.location)}` : '';
      return new InvalidConfigurationError(`Salesforce Web-to-Lead answered HTTP ${res.status} (redirect${to}) instead of taking the form`, {
        status: res.status, destinationCode: String(res.status),
        remediation: `The url setting does not point at the Web-to-Lead servlet: set it to the form action of a generated Web-to-Lead form (default https://webto.salesforce.com/servlet/servlet.WebToLead?encoding=UTF-8), then \`leadrelay resume <destination>\`.`,
      });
    }
    if (res.status === 404 || res.status === 405) {
      return new InvalidConfigurationError(`Salesforce Web-to-Lead answered HTTP ${res.status}: no Web-to-Lead servlet at the configured url`, {
        status: res.status, destinationCode: String(res.status),
        remediation: `Set url to the form action of a generated Web-to-Lead form (default https://webto.salesforce.com/servlet/servlet.WebToLead?encoding=UTF-8), then \`leadrelay resume <destination>\`.`,
      });
    }
    const text = typeof res.data === 'string' ? res.data.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200) : '';
    return classifyHttpFailure({ status: res.status, message: text, retryAfter: res.headers['retry-after'] as string | undefined }, 'Salesforce Web-to-Lead');
  }
}

function formatWait(ms: number): string {
  const minutes = Math.ceil(ms / 60_000);
  return minutes >= 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60} min` : `${minutes} min`;
}
