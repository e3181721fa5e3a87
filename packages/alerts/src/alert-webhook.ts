import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { Logger } from '@leadrelay/observability';
import type { AlertPayload } from './alert.js';
import { alertBody, type AlertTargetType } from './alert-format.js';

export interface AlertWebhookOptions {
  /** `alerts.webhookUrl`, or a target's `url`. */
  url: string;
  /** What the receiver expects: the signed generic JSON (default `webhook`), a Slack or a Teams message. */
  type?: AlertTargetType;
  /** (`webhook` only) `alerts.signingSecret` (`whsec_…`); without it requests carry `webhook-id`/`webhook-timestamp` but no signature. */
  signingSecret?: string;
  logger: Logger;
  /** Attempts per alert, the first included (default 4). */
  attempts?: number;
  /** Wait before the 2nd, 3rd, … attempt; the last value repeats (default 2 s, 15 s, 60 s). */
  retryDelaysMs?: number[];
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** Requests at once (default 2). */
  concurrency?: number;
  /** Alerts kept waiting to be sent; beyond it the oldest is dropped and logged (default 1000). */
  maxPending?: number;
}

interface Outgoing {
  id: string;
  type: string;
  body: string;
  attempt: number;
}

/**
 * Sends alert webhooks in the background: `send()` only queues, so a slow or dead alert receiver
 * never holds up a delivery. Each alert is retried a few times with the same `webhook-id` (a
 * receiver can drop repeats) and a fresh timestamp and signature per attempt. Slack and Teams
 * receivers get their own message shapes (alert-format.ts) and no Standard Webhooks headers.
 */
export class AlertWebhook {
  private readonly pending: Outgoing[] = [];
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly signer?: Webhook;
  private readonly abort = new AbortController();
  private readonly idleWaiters = new Set<() => void>();
  private closed = false;
  /** The receiver named by origin only: a path or query may carry a token. */
  private readonly where: string;
  /** Alerts delivered (2xx) / given up on / dropped because too many were pending. Kept for tests and logs. */
  readonly counts = { sent: 0, failed: 0, dropped: 0 };

  constructor(private readonly options: AlertWebhookOptions) {
    this.signer = options.signingSecret && (options.type ?? 'webhook') === 'webhook' ? new Webhook(options.signingSecret) : undefined;
    this.where = safeOrigin(options.url);
  }

  /** Queues one alert; returns at once. */
  send(payload: AlertPayload): void {
    if (this.closed) return;
    this.pending.push({ id: `alert_${randomUUID()}`, type: payload.type, body: alertBody(this.options.type ?? 'webhook', payload), attempt: 0 });
    const max = this.options.maxPending ?? 1000;
    while (this.pending.length > max) {
      const dropped = this.pending.shift()!;
      this.counts.dropped++;
      this.options.logger.warn({ webhookId: dropped.id, type: dropped.type, maxPending: max }, 'alert webhook dropped: too many alerts waiting to be sent');
    }
    this.pump();
  }

  /** Resolves when nothing is queued, waiting for a retry or in flight (tests, shutdown). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.add(resolve));
  }

  /**
   * Stops sending: alerts in flight get `timeoutMs` to finish, then are abandoned; alerts still queued
   * or waiting for a retry are dropped (each is also in the log).
   */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    const left = this.pending.length;
    this.pending.length = 0;
    if (left > 0) this.options.logger.warn({ alerts: left }, 'alert webhooks not sent before shutdown (they are in the log)');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise<void>((r) => { timer = setTimeout(r, timeoutMs); }),
    ]);
    clearTimeout(timer);
    this.abort.abort();
    this.notifyIdle(true);
  }

  private isIdle(): boolean {
    return this.pending.length === 0 && this.retryTimers.size === 0 && this.inFlight.size === 0;
  }

  private notifyIdle(force = false): void {
    if (!force && !this.isIdle()) return;
    for (const w of this.idleWaiters) w();
    this.idleWaiters.clear();
  }

  private pump(): void {
    const concurrency = this.options.concurrency ?? 2;
    while (!this.closed && this.inFlight.size < concurrency && this.pending.length > 0) {
      const item = this.pending.shift()!;
      const p: Promise<void> = this.attempt(item).finally(() => {
        this.inFlight.delete(p);
        this.pump();
        this.notifyIdle();
      });
      this.inFlight.add(p);
    }
  }

  private async attempt(item: Outgoing): Promise<void> {
    item.attempt++;
    const now = new Date();
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'LeadRelay-Alerts',
      ...((this.options.type ?? 'webhook') === 'webhook' ? {
        'webhook-id': item.id,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        ...(this.signer ? { 'webhook-signature': this.signer.sign(item.id, now, item.body) } : {}),
      } : {}),
    };
    let outcome: { retry: boolean; detail: Record<string, unknown> };
    try {
      const res = await fetch(this.options.url, {
        method: 'POST', headers, body: item.body, redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(this.options.timeoutMs ?? 10_000), this.abort.signal]),
      });
      await res.body?.cancel().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) {
        this.counts.sent++;
        return;
      }
      // 408/429/5xx may pass; any other answer (a wrong URL, a rejected signature) will not change by repeating it.
      outcome = { retry: res.status === 408 || res.status === 429 || res.status >= 500, detail: { status: res.status } };
    } catch (e) {
      outcome = { retry: true, detail: { error: describeFetchError(e) } };
    }
    const attempts = this.options.attempts ?? 4;
    const log = { webhookId: item.id, type: item.type, target: this.options.type ?? 'webhook', receiver: this.where, attempt: item.attempt, ...outcome.detail };
    if (!outcome.retry || item.attempt >= attempts || this.closed) {
      this.counts.failed++;
      this.options.logger.error(log, 'alert webhook failed; giving up (the alert is in the log)');
      return;
    }
    const delays = this.options.retryDelaysMs ?? [2000, 15_000, 60_000];
    const delay = delays[Math.min(item.attempt - 1, delays.length - 1)] ?? 60_000;
    this.options.logger.warn({ ...log, retryInMs: delay }, 'alert webhook failed; retrying');
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      if (this.closed) return;
      this.pending.unshift(item);
      this.pump();
    }, delay);
    // A pending retry must not keep a stopping process alive.
    timer.unref();
    this.retryTimers.add(timer);
  }
}

/** `fetch failed` says little: name the network cause (ECONNREFUSED, ENOTFOUND…) or the timeout. */
function describeFetchError(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError') return 'timed out';
  return err.cause?.code ?? err.cause?.message ?? err.message;
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}
