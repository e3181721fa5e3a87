import { type AxiosInstance } from 'axios';
import { RetryableError, isDeliveryError, type DeliveryError, type Lead } from '@leadrelay/core';
import type {
  BatchItemResult, CheckResult, CommonDestinationSettings, Delivered, DestinationClient, DestinationContext,
} from '../destination.js';
import { classifyMarketoHttpFailure, classifyRecordFailure, classifyResponseError, type MarketoErrorContext } from './marketo-errors.js';
import { prepareMarketoRecord, type MarketoRecord } from './marketo-mapping.js';
import { MarketoTokenProvider } from './marketo-token-provider.js';
import { describeErrors, readMarketoResponse, readRecordResult, type MarketoResponse } from './marketo-wire.js';
import type { MarketoSettings } from './settings.js';
import { createDestinationHttp, type DestinationHttp } from '../shared/index.js';

export interface MarketoClientOptions {
  /** Clock for token lifetimes and 607 waits (default Date.now); tests inject one. */
  now?: () => number;
  /** Per-call HTTP timeout (default 100 s: above Marketo's own 90 s sync/push timeout, so its 604 wins). */
  timeoutMs?: number;
  /** Renew the access token this long before it runs out (default 60 s). */
  tokenRenewBeforeMs?: number;
}

/** Marketo's hard cap on records per call. */
export const MARKETO_MAX_BATCH = 300;
/** Most sockets one client opens: Marketo serves at most 10 concurrent calls per instance. */
const MAX_SOCKETS = 10;

const PATHS = {
  sync: '/rest/v1/leads.json',
  push: '/rest/v1/leads/push.json',
  form: '/rest/v1/leads/submitForm.json',
  describe: '/rest/v1/leads/describe.json',
} as const;

type Settings = MarketoSettings & CommonDestinationSettings;

/**
 * Delivers leads to Marketo's REST API (SPEC §2 `marketo`, reference §5.2): `sync` upserts with
 * leads.json createOrUpdate, `push` uses leads/push.json, `form` leads/submitForm.json. Success is
 * read from the body (`success`, then each record's `status`), never from the HTTP status alone.
 * One instance is safe under concurrent calls; rate and concurrency limits are the engine's job.
 */
export class MarketoClient implements DestinationClient {
  private readonly http: AxiosInstance;
  private readonly web: DestinationHttp;
  private readonly tokens: MarketoTokenProvider;
  private readonly restUrl: string;
  private readonly errorCtx: MarketoErrorContext;

  constructor(private readonly settings: Settings, private readonly ctx: DestinationContext, options: MarketoClientOptions = {}) {
    const now = options.now ?? Date.now;
    this.restUrl = settings.restUrl.replace(/\/+$/, '');
    const identityUrl = (settings.identityUrl ?? `${this.restUrl}/identity`).replace(/\/+$/, '');
    // Marketo reports nearly all failures as HTTP 200 + success:false: every status is read here.
    this.web = createDestinationHttp({ timeoutMs: options.timeoutMs ?? 100_000, maxSockets: MAX_SOCKETS, responseType: 'json' });
    this.http = this.web.http;
    this.tokens = new MarketoTokenProvider({
      identityUrl, clientId: settings.clientId, clientSecret: settings.clientSecret, destinationId: settings.id,
      http: this.http, now, renewBeforeMs: options.tokenRenewBeforeMs,
    });
    this.errorCtx = {
      destinationId: settings.id, operation: settings.operation, lookupField: settings.lookupField,
      programName: settings.programName, formId: settings.formId, now,
    };
  }

  /** Identity requests made so far (diagnostics). */
  get tokenRequests(): number {
    return this.tokens.requests;
  }

  async deliver(lead: Lead): Promise<Delivered> {
    const [result] = await this.deliverBatch([lead]);
    if (!result) throw new RetryableError('Marketo returned no result for the lead');
    if (!result.ok) throw result.error;
    return result.remoteId === undefined ? {} : { remoteId: result.remoteId };
  }

  /**
   * One call for up to 300 leads (form submissions: one call per lead). Leads Marketo could not
   * file (no lookup value, non-ASCII email) are failed here and never sent. Throws when the whole
   * call failed; otherwise one result per lead, in input order.
   */
  async deliverBatch(leads: Lead[]): Promise<BatchItemResult[]> {
    const results: (BatchItemResult | undefined)[] = new Array(leads.length);
    const keyField = this.settings.operation === 'form' ? 'email' : this.settings.lookupField;
    const toSend: { index: number; record: MarketoRecord }[] = [];
    leads.forEach((lead, index) => {
      const prepared = prepareMarketoRecord(lead, { fields: this.settings.fields, keyField, destinationId: this.settings.id });
      if (prepared.ok) toSend.push({ index, record: prepared.record });
      else results[index] = { ok: false, error: prepared.error };
    });

    // Submit Form takes one record per call; sync and push up to 300.
    const chunkSize = this.settings.operation === 'form' ? 1 : Math.min(this.settings.batchSize, MARKETO_MAX_BATCH);
    for (let start = 0; start < toSend.length; start += chunkSize) {
      const chunk = toSend.slice(start, start + chunkSize);
      let chunkResults: BatchItemResult[];
      try {
        chunkResults = await this.sendRecords(chunk.map((c) => c.record));
      } catch (e) {
        // Nothing sent yet: the whole call failed, the engine applies it to every lead.
        if (start === 0) throw e;
        // Earlier chunks were filed: keep their results, fail the rest with this error.
        const error = toDeliveryError(e);
        for (const c of toSend.slice(start)) results[c.index] = { ok: false, error };
        break;
      }
      chunk.forEach((c, i) => { results[c.index] = chunkResults[i]!; });
    }
    return results.map((r) => r ?? { ok: false, error: new RetryableError('The lead was not sent to Marketo') });
  }

  private async sendRecords(records: MarketoRecord[]): Promise<BatchItemResult[]> {
    const s = this.settings;
    const body = s.operation === 'push'
      ? { programName: s.programName, lookupField: s.lookupField, input: records }
      : s.operation === 'form'
        ? { formId: s.formId, input: records.map((r) => ({ leadFormFields: r })) }
        : { action: 'createOrUpdate', lookupField: s.lookupField, input: records };
    const res = await this.call('POST', PATHS[s.operation], body);
    if (!res.result || res.result.length !== records.length) {
      this.ctx.logger.warn({ destination: s.id, requestId: res.requestId, sent: records.length, results: res.result?.length ?? 0 },
        'Marketo answered success with a result count that does not match the records sent');
      throw new RetryableError(`Marketo answered success with ${res.result?.length ?? 0} results for ${records.length} records`
        + `${res.requestId ? ` (requestId ${res.requestId})` : ''}`);
    }
    return res.result.map((raw) => {
      const r = readRecordResult(raw);
      if (r.status === 'created' || r.status === 'updated') {
        return r.id === undefined || Number.isNaN(r.id) ? { ok: true } : { ok: true, remoteId: String(r.id) };
      }
      return { ok: false, error: classifyRecordFailure(r.reasons, r.status, res.requestId, this.errorCtx) };
    });
  }

  /**
   * One REST call with a bearer token. On 601/602 the token is renewed and the call retried once;
   * any other `success:false` (and the retry's) is classified and thrown.
   */
  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<MarketoResponse> {
    let previous: string | undefined;
    for (let attempt = 0; ; attempt++) {
      const token = await this.tokens.token();
      const res = await this.send(method, path, token, body);
      if (res.success) return res;
      const code = res.errors?.[0]?.code;
      if (code === '601' || code === '602') {
        this.tokens.invalidate(token);
        if (attempt === 0) {
          this.ctx.logger.info({ destination: this.settings.id, code }, 'Marketo access token rejected; renewing it and retrying once');
          previous = token;
          continue;
        }
        if (code === '602' && token === previous) {
          // Identity still considered the token alive when REST called it expired (their clocks differ
          // by a moment): a new token will come shortly, this is not a configuration problem.
          throw new RetryableError(`Marketo reported the access token expired while Identity still issued it: ${describeErrors(res.errors)}`, { destinationCode: '602' });
        }
      }
      throw classifyResponseError(res.errors, res.requestId, this.errorCtx);
    }
  }

  private async send(method: 'GET' | 'POST', path: string, token: string, body?: unknown): Promise<MarketoResponse> {
    let res;
    try {
      res = await this.http.request({
        method,
        url: `${this.restUrl}${path}`,
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: 'application/json',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        data: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      const err = e as { code?: unknown; message?: unknown };
      const code = typeof err?.code === 'string' ? err.code : undefined;
      // Own message: an axios error carries the request config (headers with the bearer token).
      const reason = code === 'ECONNABORTED' || code === 'ETIMEDOUT' ? 'timed out' : typeof err?.message === 'string' ? err.message.replace(/\?\S*/g, '') : 'request failed';
      throw new RetryableError(`Marketo could not be reached${code ? ` (${code})` : ''}: ${reason}`, { destinationCode: code });
    }
    const envelope = res.status === 200 ? readMarketoResponse(res.data) : undefined;
    if (envelope) return envelope;
    if (res.status === 200) {
      throw new RetryableError('Marketo answered HTTP 200 without a Marketo JSON body (success/errors); a proxy or maintenance page may be in the way', { status: 200 });
    }
    throw classifyMarketoHttpFailure(res.status, bodySnippet(res.data), res.headers['retry-after'], this.errorCtx);
  }

  /** Gets a token and reads leads/describe.json: proves credentials, permissions and the field names, creates nothing. */
  async check(): Promise<CheckResult> {
    let res: MarketoResponse;
    try {
      res = await this.call('GET', PATHS.describe);
    } catch (e) {
      const err = toDeliveryError(e);
      return { ok: false, message: err.message, remediation: err.remediation };
    }
    const fields = new Set<string>();
    for (const f of res.result ?? []) {
      const name = (f as { rest?: { name?: unknown } })?.rest?.name;
      if (typeof name === 'string') fields.add(name);
    }
    const s = this.settings;
    const wanted = [...(s.operation === 'form' ? ['email'] : [s.lookupField]), ...Object.keys(s.fields ?? {})];
    const missing = fields.size === 0 ? [] : [...new Set(wanted)].filter((f) => !fields.has(f));
    if (missing.length > 0) {
      return {
        ok: false,
        message: `Marketo accepted the credentials, but these fields do not exist on its lead object: ${missing.join(', ')}`,
        remediation: `Use Marketo REST API field names in lookupField and \`fields:\` (Admin > Field Management, or GET /rest/v1/leads/describe.json), `
          + 'or create the missing fields in Marketo.',
      };
    }
    const what = s.operation === 'push' ? `push to program '${s.programName ?? ''}'` : s.operation === 'form' ? `submit form ${s.formId ?? ''}` : `upsert by ${s.lookupField}`;
    return { ok: true, message: `Marketo accepted the client credentials and described ${fields.size} lead fields; leads will ${what}` };
  }

  async close(): Promise<void> {
    this.web.close();
  }
}

function toDeliveryError(e: unknown): DeliveryError {
  if (isDeliveryError(e)) return e;
  // Not an axios error (those are converted where they happen); keep only the message.
  return new RetryableError(e instanceof Error ? e.message : String(e));
}

/** A short, single-line view of a non-Marketo body, for messages. */
function bodySnippet(data: unknown): string {
  let text = typeof data === 'string' ? data : data === undefined || data === null ? '' : JSON.stringify(data);
  if (text.trimStart().startsWith('<')) text = text.replace(/<[^>]*>/g, ' ');
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
