import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { context, propagation, trace } from '@opentelemetry/api';
import { TraceAttributes } from '@leadrelay/observability';
import { Webhook } from 'standardwebhooks';
import { SecretRedactor, type DeliveryError, type Lead } from '@leadrelay/core';
import type { CheckResult, CommonDestinationSettings, DeliverOptions, Delivered, DestinationClient, DestinationContext } from '../destination.js';
import { networkFailure, DestinationPool, linkedSignal, readClientTls, type PooledResponse } from '../shared/index.js';
import { RESERVED_HEADERS, type HttpsSettings } from './settings.js';
import { webhookBody, webhookIdOf } from './https-mapping.js';
import { classifyHttpsFailure, safeUrl, type HttpsFailureContext } from './https-errors.js';

/** Most of a failed response's body quoted in an error message. */
const EXCERPT_CHARS = 300;
/** Most bytes read from a failed response (the rest is discarded). */
const EXCERPT_READ_BYTES = 4096;
/** undici's codes for a connection, answer or body that took longer than the timeout. */
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);


export const USER_AGENT = `LeadRelay/${packageVersion()}`;

function packageVersion(): string {
  try {
    // src/https and dist/https are both two levels below the package root.
    return (createRequire(import.meta.url)('../../package.json') as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/**
 * POSTs each lead as JSON to a webhook (README: Destinations → HTTPS webhook). Outcomes: 2xx delivered; 408/429/5xx and network
 * failures transient (429, and 503 with Retry-After, throttle); 401/403 configuration; 3xx and 410
 * configuration (the URL is wrong for every lead); any other 4xx permanent.
 */
export class HttpsClient implements DestinationClient {
  private readonly pool: DestinationPool;
  private readonly url: URL;
  private readonly urlCredentials: Record<string, string> = {};
  /** One signer per secret (several during a rotation). */
  private readonly signers: Webhook[];
  private readonly redactor = new SecretRedactor();
  /** Names the receiver in messages by origin only: the path or query may hold a key (Power Automate `sig=`, `?code=`). */
  private readonly what: string;

  constructor(private readonly settings: HttpsSettings & CommonDestinationSettings, private readonly ctx: DestinationContext) {
    this.what = `Webhook ${safeOrigin(settings.url)}`;
    const secrets = settings.signingSecrets ?? (settings.signingSecret ? [settings.signingSecret] : []);
    this.signers = secrets.map((s) => new Webhook(s));
    for (const s of secrets) {
      this.redactor.add(s);
      this.redactor.add(s.replace(/^whsec_/, ''));
    }
    for (const v of Object.values(settings.headers)) this.redactor.add(v);
    for (const v of urlSecrets(settings.url)) this.redactor.add(v);
    this.url = new URL(settings.url);
    // Credentials in the URL (https://user:password@host/…) are sent as Basic authentication, as curl does; a configured Authorization header wins.
    if (this.url.username || this.url.password) {
      this.urlCredentials = { authorization: `Basic ${Buffer.from(`${decodeURIComponent(this.url.username)}:${decodeURIComponent(this.url.password)}`).toString('base64')}` };
      this.url.username = '';
      this.url.password = '';
    }
    this.pool = new DestinationPool({ timeoutMs: settings.timeout, network: ctx.network, tls: readClientTls(settings.tls) });
  }

  async deliver(lead: Lead, options: DeliverOptions = {}): Promise<Delivered> {
    const body = JSON.stringify(webhookBody(this.settings.format, lead, this.settings.fields));
    const webhookId = webhookIdOf(this.settings.id, lead.id);
    // A fresh timestamp (and signature) per attempt: receivers reject stale timestamps; the id stays the same.
    const now = new Date();
    const headers: Record<string, string> = {
      ...this.userHeaders(),
      'content-type': 'application/json',
      'webhook-id': webhookId,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      ...(this.signers.length ? { 'webhook-signature': this.signers.map((w) => w.sign(webhookId, now, body)).join(' ') } : {}),
    };
    // The delivery attempt's span, while tracing is on: the receiver can continue the trace (README: Operations → Traces).
    propagation.inject(context.active(), headers);
    // The deadline bounds the whole exchange, reading the answer included; the worker's shutdown signal cuts it short.
    const deadline = linkedSignal([options.signal], this.settings.timeout);
    let reading = false;
    try {
      const res = await this.send('POST', headers, body, deadline.signal);
      trace.getActiveSpan()?.setAttribute(TraceAttributes.httpStatus, res.status);
      if (res.status >= 200 && res.status < 300) {
        // Delivered at the status; the rest of the answer is drained (so the keep-alive socket is reused) within the deadline.
        reading = true;
        // A body cut off by the deadline or the shutdown after the 2xx is no failure (and no unhandled 'error').
        res.body.once('close', deadline.dispose).on('error', () => undefined).resume();
        return {};
      }
      throw classifyHttpsFailure({ status: res.status, headers: res.headers, excerpt: this.redact(await readExcerpt(res.body)) }, this.failureContext());
    } finally {
      if (!reading) deadline.dispose();
    }
  }

  /**
   * Proves reachability without creating a lead: an OPTIONS request with the configured headers. 401/403
   * mean the configured headers or signed URL are refused; a redirect means the URL is wrong; 404, 405 and
   * 410 fail too, with the full path: an "ok" for an address that answers "not here" would hide the wrong
   * URL until every lead is dead. A receiver that only routes POST (some Power Automate flows, Azure
   * Functions) answers OPTIONS that way as well, so the advice says how to prove it with a test lead.
   */
  async check(): Promise<CheckResult> {
    let res: PooledResponse;
    try {
      res = await this.send('OPTIONS', this.userHeaders(), undefined, AbortSignal.timeout(this.settings.timeout));
    } catch (e) {
      const err = e as DeliveryError;
      return { ok: false, message: err.message, remediation: `Check that url is right and that ${safeOrigin(this.settings.url)} is reachable from the worker (DNS, firewall, TLS certificate).` };
    }
    const excerpt = await readExcerpt(res.body);
    if (res.status === 404 || res.status === 405) {
      const path = safeUrl(this.settings.url, this.settings.url) ?? this.what;
      return {
        ok: false,
        message: `${path} answered HTTP ${res.status} to OPTIONS (${res.status === 404 ? 'no endpoint at this path' : 'method not allowed'}); no lead was sent`,
        remediation: `Check the path of url for ${this.settings.id} (${path}). If the receiver only accepts POST there, prove it with \`leadrelay test-lead ${this.settings.id}\`; `
          + 'if every lead gets the same answer LeadRelay pauses the destination and keeps the leads.',
      };
    }
    if (res.status >= 500 || res.status === 401 || res.status === 403 || (res.status >= 300 && res.status < 400) || res.status === 410) {
      const err = classifyHttpsFailure({ status: res.status, headers: res.headers, excerpt: this.redact(excerpt) }, this.failureContext());
      // The probe is deliberately unsigned (it is not a lead); a receiver that demands a signature on every method refuses it.
      const unsignedNote = this.signers.length > 0 && (res.status === 401 || res.status === 403)
        ? ' If the receiver verifies Standard Webhooks signatures on every request, this unsigned probe is refused by design: send a test lead (`leadrelay test-lead`) instead.'
        : '';
      return { ok: false, message: err.message, remediation: err.remediation + unsignedNote };
    }
    return { ok: true, message: `${this.what} is reachable (OPTIONS answered HTTP ${res.status}; no lead was sent)` };
  }

  async close(): Promise<void> {
    this.pool.close();
  }

  /** Configured headers, minus the reserved ones (config validation rejects those; this guards direct use). */
  private userHeaders(): Record<string, string> {
    const out: Record<string, string> = { 'user-agent': USER_AGENT, ...this.urlCredentials };
    for (const [k, v] of Object.entries(this.settings.headers)) {
      if (!RESERVED_HEADERS.includes(k.toLowerCase())) out[k.toLowerCase()] = v;
    }
    return out;
  }

  /** `signal` bounds the whole exchange (a slow drip too); the pool's header and body timeouts cover idle gaps. */
  private async send(method: 'POST' | 'OPTIONS', headers: Record<string, string>, body: string | undefined, signal: AbortSignal): Promise<PooledResponse> {
    try {
      return await this.pool.request(method, this.url, headers, body, signal);
    } catch (e) {
      const err = e as { code?: string; message?: string; name?: string };
      const timedOut = signal.aborted || err.code === 'ETIMEDOUT' || (err.code !== undefined && TIMEOUT_CODES.has(err.code));
      const message = timedOut ? `no answer within ${this.settings.timeout}ms` : this.redact(err.message ?? String(e));
      throw networkFailure(this.what, timedOut ? 'ETIMEDOUT' : err.code, message);
    }
  }

  private failureContext(): HttpsFailureContext {
    return { what: this.what, destinationId: this.settings.id, url: this.settings.url, format: this.settings.format };
  }

  private redact(text: string): string {
    return this.redactor.redact(text).replace(/([?&](?:sig|code|key|token|access_token|api[-_]?key)=)[^&\s"']+/gi, '$1[redacted]');
  }
}

/** Reads at most a few KiB of a failed response and returns a one-line excerpt. */
async function readExcerpt(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      chunks.push(b);
      size += b.length;
      if (size >= EXCERPT_READ_BYTES) break;
    }
  } catch {
    // A body cut short still gives whatever arrived.
  } finally {
    stream.destroy();
  }
  const text = Buffer.concat(chunks).subarray(0, EXCERPT_READ_BYTES).toString('utf8').replace(/\s+/g, ' ').trim();
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

/** Values in a URL that may be keys: the password and every query value. */
function urlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    return [decodeURIComponent(u.password), ...u.searchParams.values()].filter(Boolean);
  } catch {
    return [];
  }
}
