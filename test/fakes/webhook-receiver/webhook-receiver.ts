import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** How the receiver answers one request. */
export interface WebhookReply {
  /** HTTP status (default 200). */
  status?: number;
  /** Response headers, e.g. `{ 'Retry-After': '120' }` or `{ Location: 'https://elsewhere/' }`. */
  headers?: Record<string, string>;
  /** A string is sent as-is; an object as JSON (default `{"ok":true}` for 2xx, an error object otherwise). */
  body?: string | object;
  /** Wait this long before answering (default 0). */
  delayMs?: number;
  /** Destroy the socket instead of answering (after `delayMs`): the client sees ECONNRESET / socket hang up. */
  reset?: boolean;
}

/** One request as the receiver saw it, and what it answered. */
export interface ReceivedRequest {
  /** 1-based arrival order. */
  seq: number;
  method: string;
  /** Path without the query string. */
  path: string;
  /** Path and query string as sent. */
  url: string;
  query: Record<string, string>;
  /** Lower-cased names, as Node gives them. */
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  /** `webhook-id` header, when sent. */
  webhookId?: string;
  /** Whether the Standard Webhooks signature verified with the receiver's `signingSecret` (undefined without one). */
  signatureValid?: boolean;
  receivedAt: Date;
  /**
   * What was answered: a status; `reset` when the receiver destroyed the socket (fault);
   * `client-closed` when the client gave up (e.g. its timeout) before the delayed answer.
   */
  outcome: number | 'reset' | 'client-closed' | 'pending';
}

export interface WebhookReceiverOptions {
  /** Loopback host to bind (default `127.0.0.1`). */
  host?: string;
  /** Port (default: a free one chosen by the OS). */
  port?: number;
  /** Verify every request's Standard Webhooks signature with this `whsec_…` secret and record the result. */
  signingSecret?: string;
  /** With `signingSecret`: answer 401 to requests whose signature does not verify (default false: record only). */
  rejectInvalidSignatures?: boolean;
  /** Keep every request in `requests` (default true); benchmarks may turn it off and rely on the counters. */
  keepRequests?: boolean;
  /** The answer when no fault is queued (default 200 `{"ok":true}`). */
  defaultReply?: WebhookReply;
}

type Waiter = { check: () => boolean; resolve: () => void };

/**
 * A fake webhook receiver on a free loopback port: records every request (method, path, headers, raw body,
 * parsed JSON) and answers with queued faults (status + headers + body, delay, socket reset) or a default.
 * Used by the https destination tests, end-to-end tests and benchmarks.
 */
export class WebhookReceiver {
  /** Every request in arrival order (unless `keepRequests: false`). */
  readonly requests: ReceivedRequest[] = [];
  /** Total requests received, kept even when `keepRequests` is false. */
  requestCount = 0;
  /** Requests answered, reset or abandoned by the client. */
  private completed = 0;
  private readonly queue: WebhookReply[] = [];
  private defaultReply: WebhookReply;
  private readonly acceptedById = new Map<string, number>();
  private readonly receivedById = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly waiters = new Set<Waiter>();
  private readonly verifier?: Webhook;

  private constructor(private readonly server: Server, readonly host: string, readonly port: number, private readonly options: WebhookReceiverOptions) {
    this.defaultReply = options.defaultReply ?? { status: 200 };
    this.verifier = options.signingSecret ? new Webhook(options.signingSecret) : undefined;
  }

  static async start(options: WebhookReceiverOptions = {}): Promise<WebhookReceiver> {
    const host = options.host ?? '127.0.0.1';
    let receiver: WebhookReceiver | undefined;
    const server = createServer((req, res) => receiver!.handle(req, res));
    server.on('connection', (s) => {
      receiver?.sockets.add(s);
      s.on('close', () => receiver?.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
    const { port } = server.address() as { port: number };
    receiver = new WebhookReceiver(server, host, port, options);
    return receiver;
  }

  /** Base URL, e.g. `http://127.0.0.1:43121`. */
  get origin(): string {
    return `http://${this.host}:${this.port}`;
  }

  /** A full URL on this receiver (default path `/hook`). */
  url(path = '/hook'): string {
    return `${this.origin}${path.startsWith('/') ? path : `/${path}`}`;
  }

  // ---- fault injection -------------------------------------------------------------------------

  /** Answers the next `n` requests with `reply` (queued after any faults already queued). */
  replyNext(n: number, reply: WebhookReply): this {
    for (let i = 0; i < n; i++) this.queue.push({ ...reply });
    return this;
  }

  /** Answers the next `n` requests with `status` (+ headers such as Retry-After, + body). */
  failNext(n: number, status: number, extra: Omit<WebhookReply, 'status'> = {}): this {
    return this.replyNext(n, { ...extra, status });
  }

  /** Delays the next `n` replies by `ms` (then answers with the default reply). */
  delayNext(n: number, ms: number): this {
    return this.replyNext(n, { ...this.defaultReply, delayMs: ms });
  }

  /** Destroys the socket of the next `n` requests without answering. */
  resetNext(n: number): this {
    return this.replyNext(n, { reset: true });
  }

  /** Changes the answer used when nothing is queued (e.g. a permanent outage, or a latency for benchmarks). */
  setDefaultReply(reply: WebhookReply): this {
    this.defaultReply = reply;
    return this;
  }

  /** Faults still queued. */
  get pendingFaults(): number {
    return this.queue.length;
  }

  /** Forgets recorded requests, counters and queued faults; keeps the default reply. */
  clear(): void {
    this.requests.length = 0;
    this.requestCount = 0;
    this.completed = 0;
    this.queue.length = 0;
    this.acceptedById.clear();
    this.receivedById.clear();
  }

  // ---- lookups ---------------------------------------------------------------------------------

  /** Requests carrying this `webhook-id` (every attempt, whatever was answered). */
  requestsFor(webhookId: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.webhookId === webhookId);
  }

  /** How many requests carried this `webhook-id`. */
  receivedCount(webhookId: string): number {
    return this.receivedById.get(webhookId) ?? 0;
  }

  /** How many times this `webhook-id` was answered 2xx (1 = delivered once; > 1 = duplicate deliveries). */
  acceptedCount(webhookId: string): number {
    return this.acceptedById.get(webhookId) ?? 0;
  }

  /** Distinct `webhook-id`s answered 2xx at least once: the leads this receiver has accepted. */
  acceptedIds(): string[] {
    return [...this.acceptedById.keys()];
  }

  /** `webhook-id`s answered 2xx more than once. */
  duplicateIds(): string[] {
    return [...this.acceptedById].filter(([, n]) => n > 1).map(([id]) => id);
  }

  /** The last request answered 2xx for this `webhook-id`. */
  lastAccepted(webhookId: string): ReceivedRequest | undefined {
    return this.requestsFor(webhookId).filter((r) => typeof r.outcome === 'number' && r.outcome < 300).at(-1);
  }

  /** Verifies a recorded request's Standard Webhooks signature; returns the parsed payload or throws WebhookVerificationError. */
  verify(request: ReceivedRequest, secret: string): unknown {
    return new Webhook(secret).verify(request.rawBody, headersForVerify(request.headers));
  }

  /** Resolves when `predicate` holds (checked on every request completion), rejects after `timeoutMs`. */
  waitFor(predicate: (r: this) => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate(this)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        check: () => predicate(this),
        resolve: () => { clearTimeout(timer); this.waiters.delete(waiter); resolve(); },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`WebhookReceiver.waitFor timed out after ${timeoutMs}ms (${this.requestCount} requests, ${this.acceptedById.size} accepted ids)`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Resolves once `n` requests have been answered or reset. */
  waitForRequests(n: number, timeoutMs?: number): Promise<void> {
    return this.waitFor((r) => r.completed >= n, timeoutMs);
  }

  /** Resolves once `n` distinct webhook-ids have been answered 2xx. */
  waitForAccepted(n: number, timeoutMs?: number): Promise<void> {
    return this.waitFor((r) => r.acceptedById.size >= n, timeoutMs);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- serving ---------------------------------------------------------------------------------

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const u = new URL(req.url ?? '/', this.origin);
      const webhookId = typeof req.headers['webhook-id'] === 'string' ? req.headers['webhook-id'] : undefined;
      const record: ReceivedRequest = {
        seq: ++this.requestCount,
        method: req.method ?? 'GET',
        path: u.pathname,
        url: req.url ?? '/',
        query: Object.fromEntries(u.searchParams),
        headers: req.headers,
        rawBody,
        json: parseJson(rawBody),
        webhookId,
        signatureValid: this.verifier ? this.checkSignature(rawBody, req.headers) : undefined,
        receivedAt: new Date(),
        outcome: 'pending',
      };
      if (this.options.keepRequests !== false) this.requests.push(record);
      if (webhookId) this.receivedById.set(webhookId, (this.receivedById.get(webhookId) ?? 0) + 1);

      let reply = this.queue.shift() ?? this.defaultReply;
      if (record.signatureValid === false && this.options.rejectInvalidSignatures) {
        reply = { status: 401, body: { error: 'invalid_signature', message: 'Standard Webhooks signature did not verify' } };
      }
      const answer = () => this.answer(record, res, reply);
      if (reply.delayMs && reply.delayMs > 0) {
        const t = setTimeout(() => { this.timers.delete(t); answer(); }, reply.delayMs);
        this.timers.add(t);
      } else {
        answer();
      }
    });
  }

  private answer(record: ReceivedRequest, res: ServerResponse, reply: WebhookReply): void {
    if (reply.reset) {
      record.outcome = 'reset';
      res.socket?.destroy();
      this.completedOne();
      return;
    }
    if (res.destroyed || res.socket?.destroyed) {
      // The client gave up (timeout) before we answered; it never saw a status.
      record.outcome = 'client-closed';
      this.completedOne();
      return;
    }
    const status = reply.status ?? 200;
    const body = reply.body ?? (status < 300 ? { ok: true } : status >= 300 && status < 400 ? '' : { error: `HTTP ${status}`, message: `fake receiver answered ${status}` });
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = { ...(typeof body === 'string' ? { 'content-type': 'text/plain; charset=utf-8' } : { 'content-type': 'application/json' }), ...lowerKeys(reply.headers) };
    record.outcome = status;
    if (status >= 200 && status < 300 && record.webhookId) this.acceptedById.set(record.webhookId, (this.acceptedById.get(record.webhookId) ?? 0) + 1);
    res.writeHead(status, headers);
    res.end(text);
    this.completedOne();
  }

  private completedOne(): void {
    this.completed++;
    for (const w of [...this.waiters]) if (w.check()) w.resolve();
  }

  private checkSignature(rawBody: string, headers: IncomingHttpHeaders): boolean {
    try {
      this.verifier!.verify(rawBody, headersForVerify(headers));
      return true;
    } catch {
      return false;
    }
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function lowerKeys(h: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

function headersForVerify(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}
