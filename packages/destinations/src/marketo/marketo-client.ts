import { createHash } from 'node:crypto';
import { type AxiosInstance } from 'axios';
import { InvalidConfigurationError, RetryableError, isDeliveryError, type DeliveryError, type Lead } from '@leadrelay/core';
import type {
  BatchItemResult, CheckResult, CommonDestinationSettings, DeliverOptions, Delivered, DestinationClient, DestinationContext, KeyLocks,
} from '../destination.js';
import { classifyMarketoFailure, type MarketoErrorContext } from './marketo-errors.js';
import { readMarketoDescribe, readMarketoFormFields, type MarketoFormFields, type MarketoLeadDescribe } from './marketo-lead-describe.js';
import { defaultMarketoRecord, fitMarketoRecord, prepareMarketoRecord, type MarketoRecord } from './marketo-mapping.js';
import { MarketoTokenProvider } from './marketo-token-provider.js';
import { describeErrors, readMarketoResponse, readRecordResult, type MarketoResponse } from './marketo-wire.js';
import type { MarketoSettings } from './settings.js';
import { MemoryKeyLocks, abortable, createDestinationHttp, type DestinationHttp } from '../shared/index.js';

export interface MarketoClientOptions {
  /** Clock for token lifetimes and 607 waits (default Date.now); tests inject one. */
  now?: () => number;
  /** Per-call HTTP timeout (default 100 s: above Marketo's own 90 s sync/push timeout, so its 604 wins). */
  timeoutMs?: number;
  /** Renew the access token this long before it runs out (default 60 s). */
  tokenRenewBeforeMs?: number;
  /**
   * Longest a lead waits for another call with its lookup value (email) to finish, in ms (default 30 000);
   * then it fails as transient and is retried with backoff.
   */
  lockWaitMs?: number;
}

/** How often a lead whose email is in flight elsewhere looks again. */
const LOCK_POLL_MS = 50;

/** What delivery reads from the instance once: describe, and for `form` the form's fields. */
interface InstanceSchema {
  describe: MarketoLeadDescribe;
  form?: MarketoFormFields & { formId: number };
}

/** One lead on its way: its index in the batch, its record and the lock key of its lookup value. */
interface Outgoing {
  index: number;
  record: MarketoRecord;
  lockKey: string;
  warnings: string[];
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
  formFields: (formId: number) => `/rest/asset/v1/form/${formId}/fields.json`,
} as const;

type Settings = MarketoSettings & CommonDestinationSettings;

/**
 * Delivers leads to Marketo's REST API (README: Destinations → Marketo): `sync` upserts with
 * leads.json createOrUpdate, `push` uses leads/push.json, `form` leads/submitForm.json. Success is
 * read from the body (`success`, then each record's `status`), never from the HTTP status alone.
 * One instance is safe under concurrent calls; rate and concurrency limits are the engine's job.
 */
/** How long a dead worker's hold on a lookup value outlives it (renewed every third of it while alive). */
const LOOKUP_LEASE_MS = 10_000;

export class MarketoClient implements DestinationClient {
  private readonly http: AxiosInstance;
  private readonly web: DestinationHttp;
  private readonly tokens: MarketoTokenProvider;
  private readonly restUrl: string;
  private readonly errorCtx: MarketoErrorContext;
  private readonly locks: KeyLocks;
  private readonly lockWaitMs: number;
  private readonly lockTtlMs: number;
  private readonly now: () => number;
  private schemaRead?: Promise<InstanceSchema>;

  constructor(private readonly settings: Settings, private readonly ctx: DestinationContext, options: MarketoClientOptions = {}) {
    const now = options.now ?? Date.now;
    this.now = now;
    // Same email in two calls at once makes two persons in Marketo (leads.md): each lookup value is held
    // across workers while its call runs (the lease renews itself); a holder that died frees it within the
    // lease, well inside another delivery's lockWaitMs.
    this.locks = ctx.keyLocks?.('lookup') ?? new MemoryKeyLocks();
    this.lockWaitMs = options.lockWaitMs ?? 30_000;
    this.lockTtlMs = LOOKUP_LEASE_MS;
    this.restUrl = settings.restUrl.replace(/\/+$/, '');
    const identityUrl = (settings.identityUrl ?? `${this.restUrl}/identity`).replace(/\/+$/, '');
    // Marketo reports nearly all failures as HTTP 200 + success:false: every status is read here.
    this.web = createDestinationHttp({ timeoutMs: options.timeoutMs ?? 100_000, maxSockets: MAX_SOCKETS, responseType: 'json', network: ctx.network });
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

  async deliver(lead: Lead, options: DeliverOptions = {}): Promise<Delivered> {
    const [result] = await this.deliverBatch([lead], options);
    if (!result) throw new RetryableError('Marketo returned no result for the lead');
    if (!result.ok) throw result.error;
    const { ok: _ok, ...delivered } = result;
    return delivered;
  }

  /**
   * One call for up to 300 leads (form submissions: one call per lead). Leads Marketo could not
   * file (no lookup value, non-ASCII email, an over-long email) are failed here and never sent. Throws
   * when the whole call failed; otherwise one result per lead, in input order.
   */
  deliverBatch(leads: Lead[], options: DeliverOptions = {}): Promise<BatchItemResult[]> {
    return abortable(this.sendBatch(leads, options.signal), options.signal, `Marketo (${this.settings.id})`);
  }

  /** describe (and the form's fields), read on first use and kept; a failed read is retried next time. */
  private schema(): Promise<InstanceSchema> {
    this.schemaRead ??= this.readSchema().catch((e: unknown) => {
      this.schemaRead = undefined;
      throw e;
    });
    return this.schemaRead;
  }

  private async readSchema(): Promise<InstanceSchema> {
    const describe = readMarketoDescribe((await this.call('GET', PATHS.describe)).result);
    // formFields: all sends every mapped field without reading the form (the 1006 skip is Adobe-undocumented).
    const formId = this.settings.operation === 'form' && this.settings.formFields !== 'all' ? this.settings.formId : undefined;
    if (formId === undefined) return { describe };
    let res: MarketoResponse;
    try {
      res = await this.call('GET', PATHS.formFields(formId));
    } catch (e) {
      throw this.formReadFailure(e, formId);
    }
    const fields = readMarketoFormFields(res.result, describe);
    if (!fields) {
      throw new InvalidConfigurationError(`Marketo's Asset API has no form ${formId}${res.warnings?.length ? ` (${res.warnings.map(String).join('; ')})` : ''}`, {
        destinationCode: '1013',
        remediation: `Set formId to the id in the form's embed code (MktoForms2.loadForm(…, <formId>)), in a workspace the API user can access, `
          + `then \`leadrelay resume ${this.settings.id}\`.`,
      });
    }
    return { describe, form: { ...fields, formId } };
  }

  /** Reading the form needs the Asset API: its own permission, and its own way of saying "no such form". */
  private formReadFailure(e: unknown, formId: number): DeliveryError {
    const err = toDeliveryError(e);
    if (err.destinationCode === '603') {
      return new InvalidConfigurationError(`Marketo denied reading form ${formId}'s fields (Asset API): ${err.message}`, {
        destinationCode: '603',
        remediation: 'Give the API-only user\'s role the "Read-Only Assets" API permission (Admin > Users & Roles), so LeadRelay can read which fields '
          + `form ${formId} has and send only those; then \`leadrelay resume ${this.settings.id}\`.`,
      });
    }
    if (err.destinationCode === '702' || err.destinationCode === '610' || err.destinationCode === '1013') {
      return new InvalidConfigurationError(`Marketo found no form ${formId}: ${err.message}`, {
        destinationCode: err.destinationCode,
        remediation: `Set formId to the id in the form's embed code, then \`leadrelay resume ${this.settings.id}\`.`,
      });
    }
    return err;
  }

  /** The lock key of a lookup value: the destination's lock set holds a hash, never the email itself. */
  private lockKey(value: unknown): string {
    const keyField = this.keyField;
    const text = keyField === 'email' ? String(value).toLowerCase() : String(value);
    return createHash('sha256').update(`${keyField}\0${text}`).digest('hex').slice(0, 32);
  }

  private get keyField(): string {
    return this.settings.operation === 'form' ? 'email' : this.settings.lookupField;
  }

  private async sendBatch(leads: Lead[], signal?: AbortSignal): Promise<BatchItemResult[]> {
    const results: (BatchItemResult | undefined)[] = new Array(leads.length);
    const keyField = this.keyField;
    const prepared: { index: number; record: MarketoRecord }[] = [];
    leads.forEach((lead, index) => {
      const p = prepareMarketoRecord(lead, { fields: this.settings.fields, keyField, destinationId: this.settings.id });
      if (p.ok) prepared.push({ index, record: p.record });
      else results[index] = { ok: false, error: p.error };
    });
    if (prepared.length === 0) return results.map((r) => r!);

    const schema = await this.schema();
    let pending: Outgoing[] = [];
    for (const p of prepared) {
      const fitted = fitMarketoRecord(p.record, { describe: schema.describe, form: schema.form, keyField, destinationId: this.settings.id, leadId: leads[p.index]!.id });
      if (!fitted.ok) {
        // The form itself cannot take any lead: the whole call fails (the destination pauses).
        if (fitted.error.kind === 'configuration') throw fitted.error;
        results[p.index] = { ok: false, error: fitted.error };
      } else {
        pending.push({ index: p.index, record: fitted.record, lockKey: this.lockKey(fitted.record[keyField]), warnings: fitted.warnings });
      }
    }

    // Rounds: one record per lookup value in a call (the same email twice in one call is undocumented,
    // and may make two persons), and only values no other call holds right now.
    const deadline = this.now() + this.lockWaitMs;
    let filed = false;
    while (pending.length > 0) {
      if (signal?.aborted) break;
      const inRound = new Set<string>();
      const round = pending.filter((o) => !inRound.has(o.lockKey) && inRound.add(o.lockKey));
      const lease = await this.locks.tryAcquire([...inRound], this.lockTtlMs);
      const ready = round.filter((o) => lease.held.has(o.lockKey));
      let failed: DeliveryError | undefined;
      try {
        failed = await this.sendRound(ready, results, filed);
      } finally {
        await lease.release();
      }
      filed ||= ready.some((o) => results[o.index] !== undefined);
      if (failed) {
        // Earlier calls were filed: keep their results, fail the rest with this error.
        for (const o of pending) results[o.index] ??= { ok: false, error: failed };
        break;
      }
      const sent = new Set(ready);
      pending = pending.filter((o) => !sent.has(o));
      if (ready.length === 0 && pending.length > 0) {
        if (this.now() >= deadline) {
          for (const o of pending) {
            results[o.index] = {
              ok: false,
              error: new RetryableError(`Another delivery with this lead's ${keyField} to ${this.settings.id} was still in flight after ${this.lockWaitMs} ms; `
                + 'sending now could create a second Marketo person', { destinationCode: 'LOOKUP_BUSY' }),
            };
          }
          break;
        }
        await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
      }
    }
    return results.map((r) => r ?? { ok: false, error: new RetryableError('The lead was not sent to Marketo') });
  }

  /**
   * Sends the round's records in calls of at most batchSize (Submit Form: one). A call failing before
   * anything of the batch was filed throws (the engine applies it to every lead); after, it is returned.
   */
  private async sendRound(round: Outgoing[], results: (BatchItemResult | undefined)[], filedBefore: boolean): Promise<DeliveryError | undefined> {
    const chunkSize = this.settings.operation === 'form' ? 1 : Math.min(this.settings.batchSize, MARKETO_MAX_BATCH);
    let filed = filedBefore;
    for (let start = 0; start < round.length; start += chunkSize) {
      const chunk = round.slice(start, start + chunkSize);
      let chunkResults: BatchItemResult[];
      try {
        chunkResults = await this.sendRecords(chunk.map((c) => c.record));
      } catch (e) {
        if (!filed) throw e;
        return toDeliveryError(e);
      }
      filed = true;
      chunk.forEach((c, i) => {
        const r = chunkResults[i]!;
        results[c.index] = r.ok && c.warnings.length > 0 ? { ...r, warnings: c.warnings } : r;
      });
    }
    return undefined;
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
      return { ok: false, error: classifyMarketoFailure({ kind: 'record', reasons: r.reasons, status: r.status, requestId: res.requestId }, this.errorCtx) };
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
      throw classifyMarketoFailure({ kind: 'response', errors: res.errors, requestId: res.requestId }, this.errorCtx);
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
      throw classifyMarketoFailure({ kind: 'network', code, message: reason }, this.errorCtx);
    }
    const envelope = res.status === 200 ? readMarketoResponse(res.data) : undefined;
    if (envelope) return envelope;
    if (res.status === 200) {
      throw new RetryableError('Marketo answered HTTP 200 without a Marketo JSON body (success/errors); a proxy or maintenance page may be in the way', { status: 200 });
    }
    throw classifyMarketoFailure({ kind: 'http', status: res.status, body: bodySnippet(res.data), retryAfter: res.headers['retry-after'] }, this.errorCtx);
  }

  /**
   * Gets a token and reads leads/describe.json (and for `form` the form's fields through the Asset API):
   * proves credentials, permissions and the field names, names the lead fields the form will drop, and
   * creates nothing.
   */
  async check(): Promise<CheckResult> {
    let schema: InstanceSchema;
    try {
      this.schemaRead = undefined; // a check always reads the instance as it is now
      schema = await this.schema();
    } catch (e) {
      const err = toDeliveryError(e);
      return { ok: false, message: err.message, remediation: err.remediation };
    }
    const fields = schema.describe.restNames;
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
    const warnings: string[] = [];
    const form = schema.form;
    if (form) {
      if (!form.fields.has('email')) {
        return {
          ok: false,
          message: `Marketo form ${form.formId} has no Email field: Submit Form finds the person by email, so every lead would be skipped`,
          remediation: `Add the Email field to form ${form.formId} in Design Studio and approve the form, then run \`leadrelay check ${s.id}\` again.`,
        };
      }
      // Every field the mapping can produce: the default ones and `fields:` keys.
      const mapped = new Set([...Object.keys(defaultMarketoRecord(CHECK_LEAD)), ...Object.keys(s.fields ?? {})]);
      const dropped = [...mapped].filter((f) => !form.fields.has(f));
      if (dropped.length > 0) {
        warnings.push(`Form ${form.formId} has no field for ${dropped.join(', ')}: these lead fields will not be sent (Submit Form skips a record with any field `
          + 'not on the form). Add them to the form in Design Studio to keep them.');
      }
    }
    const lengths = form?.lengths ?? schema.describe.lengths;
    const sized = Object.keys(lengths).length;
    const what = s.operation === 'push' ? `push to program '${s.programName ?? ''}'`
      : s.operation === 'form' ? `submit form ${s.formId ?? ''} (${form ? `${form.fields.size} lead fields on it` : 'every mapped field: formFields: all, the form was not read'})`
        : `upsert by ${s.lookupField}`;
    return {
      ok: true,
      message: `Marketo accepted the client credentials and described ${fields.size} lead fields; leads will ${what}; `
        + `values longer than the length of their field (${sized} sized fields) are truncated with a warning, an over-long ${this.keyField} is refused`,
      ...(warnings.length ? { warnings } : {}),
    };
  }

  async close(): Promise<void> {
    this.web.close();
  }
}

/** A lead with every customer field, to list the fields the default mapping produces. */
const CHECK_LEAD: Lead = {
  id: 'check', source: 's', action: 'a', offer: 'o', createdAt: '1970-01-01T00:00:00.000Z', testLead: true,
  customer: { firstName: 'x', lastName: 'x', email: 'x@x', phone: 'x', country: 'x', company: 'x', title: 'x' },
};

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
