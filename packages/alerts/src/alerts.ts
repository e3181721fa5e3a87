import { scrubCustomerData, type Lead, type SecretRedactor, type SerializedDeliveryError } from '@leadrelay/core';
import type { LeadRelayConfig } from '@leadrelay/config';
import type { Logger } from '@leadrelay/observability';
import { withTimeout, type DeliveryRecord, type Relay } from '@leadrelay/queue';
import { ALERT_LEVEL, type AlertDataByType, type AlertPayload, type AlertType, type QueueWaitingTooLongData, type ReconciliationGapData } from './alert.js';
import { AlertWebhook, type AlertWebhookOptions } from './alert-webhook.js';

/** The events a DeliveryService (or one DestinationWorker) emits; structural so this package needs no engine. */
export interface AlertSource {
  on(event: 'destination-paused', listener: (e: { destination: string; reason: string; remediation: string }) => void): unknown;
  on(event: 'dead-lettered', listener: (e: { leadId: string; destination: string; error: SerializedDeliveryError }) => void): unknown;
  off(event: 'destination-paused' | 'dead-lettered', listener: (...args: never[]) => void): unknown;
}

export interface AlertsOptions {
  config: LeadRelayConfig;
  logger: Logger;
  /**
   * Reads the lead (to remove its personal data from error texts) and its attempts, and shares
   * "already alerted" marks between processes. Without it, error texts of dead-lettered leads are
   * withheld from alerts (they could quote customer data) and de-duplication is per process.
   */
  relay?: Relay;
  /** Hides the config's secret values (default: none beyond what the worker already redacted). */
  redactor?: SecretRedactor;
  /** Overrides for every alert target (retry delays, timeout…); urls and secrets come from `alerts.*`. */
  webhook?: Omit<AlertWebhookOptions, 'url' | 'type' | 'signingSecret' | 'logger'>;
  /** Further `destination-paused` alerts for a destination inside this window are dropped (default 60 s): every in-flight lead fails alike. */
  pausedRepeatWindowMs?: number;
  /** Longest wait for Redis when enriching an alert; an alert is never held longer (default 2 s). */
  lookupTimeoutMs?: number;
}

/** A bad episode no recovery ended is forgotten after this long (a destination removed, a pause never lifted). */
const EPISODE_TTL_SECONDS = 30 * 86_400;

const WITHHELD = 'error text withheld: the lead could not be read to remove customer data from it';

/**
 * Raises LeadRelay's alerts: one structured log event each (`{alert, destination, …}` at warn or
 * error) and, when `alerts.webhookUrl` is set, a Standard Webhooks-signed POST sent in the
 * background. Alerts carry ids, codes, messages and remediations, never secrets or customer data.
 */
export class Alerts {
  /** One sender per alert target: `alerts.webhookUrl` first, then each of `alerts.targets`. */
  readonly targets: AlertWebhook[] = [];
  private readonly log: Logger;
  private readonly recent = new Map<string, number>();

  constructor(private readonly options: AlertsOptions) {
    this.log = options.logger.child({ component: 'alerts' });
    const { webhookUrl, signingSecret, targets = [] } = options.config.alerts;
    const all = [...(webhookUrl ? [{ type: 'webhook' as const, url: webhookUrl, ...(signingSecret ? { signingSecret } : {}) }] : []), ...targets];
    for (const target of all) {
      this.targets.push(new AlertWebhook({ ...options.webhook, ...target, logger: this.log }));
      if (target.type === 'webhook' && !target.signingSecret) this.log.warn({ receiver: new URL(target.url).origin }, 'an alert webhook has no signingSecret: its alerts are sent unsigned');
    }
  }

  /** Alerts for every pause and dead letter `source` reports; returns a function that stops listening. */
  attach(source: AlertSource): () => void {
    const onPaused = (e: { destination: string; reason: string; remediation: string }) => { void this.destinationPaused(e); };
    const onDead = (e: { leadId: string; destination: string; error: SerializedDeliveryError }) => { void this.leadDeadLettered(e); };
    source.on('destination-paused', onPaused);
    source.on('dead-lettered', onDead);
    return () => {
      source.off('destination-paused', onPaused);
      source.off('dead-lettered', onDead);
    };
  }

  /** A destination was paused. Repeats inside `pausedRepeatWindowMs` (other in-flight leads failing alike, other workers) are dropped. */
  async destinationPaused(e: { destination: string; reason: string; remediation: string }): Promise<boolean> {
    try {
      if (!(await this.firstWithin(e.destination, 'destination-paused', this.options.pausedRepeatWindowMs ?? 60_000))) return false;
      this.raise('destination-paused', {
        destination: e.destination, destinationType: this.typeOf(e.destination),
        reason: this.redact(e.reason), remediation: this.redact(e.remediation),
      });
      await this.markEpisode(e.destination, 'down');
      return true;
    } catch (err) {
      this.log.error({ err: this.redact((err as Error).message), destination: e.destination }, 'could not raise a destination-paused alert');
      return false;
    }
  }

  /** A pull source was paused; repeats inside the paused-repeat window (other workers) are dropped. */
  async sourcePaused(e: { source: string; sourceType: string; reason: string; remediation: string }): Promise<boolean> {
    try {
      if (!(await this.firstWithin(`source:${e.source}`, 'source-paused', this.options.pausedRepeatWindowMs ?? 60_000))) return false;
      this.raise('source-paused', { source: e.source, sourceType: e.sourceType, reason: this.redact(e.reason), remediation: this.redact(e.remediation) });
      return true;
    } catch (err) {
      this.log.error({ err: this.redact((err as Error).message), source: e.source }, 'could not raise a source-paused alert');
      return false;
    }
  }

  /** The reconciliation found missing leads (ids and reasons only: never customer data). */
  reconciliationGap(data: ReconciliationGapData): void {
    this.raise('reconciliation-gap', { ...data, examples: data.examples.slice(0, 20).map((m) => ({ ...m, reason: this.redact(m.reason) })) });
  }

  /** A lead was dead-lettered at a destination. */
  async leadDeadLettered(e: { leadId: string; destination: string; error: SerializedDeliveryError }): Promise<void> {
    try {
      const { lead, record } = await this.lookup(e.leadId, e.destination);
      const clean = (text: string) => (lead ? scrubCustomerData(this.redact(text), lead) : WITHHELD);
      this.raise('lead-dead-lettered', {
        destination: e.destination, destinationType: this.typeOf(e.destination), leadId: e.leadId,
        ...(record ? { attempts: record.attempts } : {}),
        error: clean(e.error.message), code: e.error.code,
        ...(e.error.destinationCode !== undefined ? { destinationCode: e.error.destinationCode } : {}),
        ...(e.error.status !== undefined ? { status: e.error.status } : {}),
        kind: e.error.kind,
        // Remediations are LeadRelay's own words, but some quote the destination: scrub them too.
        remediation: lead ? scrubCustomerData(this.redact(e.error.remediation), lead) : this.redact(e.error.remediation),
      });
    } catch (err) {
      this.log.error({ err: this.redact((err as Error).message), destination: e.destination, leadId: e.leadId }, 'could not raise a lead-dead-lettered alert');
    }
  }

  /** A destination's oldest waiting lead has waited too long (QueueWaitMonitor decides when). */
  async queueWaitingTooLong(data: QueueWaitingTooLongData): Promise<void> {
    this.raise('queue-waiting-too-long', { ...data, ...(data.lastError ? { lastError: this.redact(data.lastError) } : {}) });
    await this.markEpisode(data.destination, 'slow');
  }

  /**
   * `destination-recovered` when a destination paused with an alert is running again and has delivered
   * since the alert. The episode's mark is deleted by whichever process sees it first, so one alert per
   * pause across every worker. True when this call raised it.
   */
  async destinationRecovered(destination: string): Promise<boolean> {
    const relay = this.options.relay;
    if (!relay) return false;
    const since = await relay.redis.get(relay.keys.alert(destination, 'down'));
    if (!since) return false;
    const health = await relay.health(destination);
    if (health.paused || !health.lastSuccessAt || Date.parse(health.lastSuccessAt) < Date.parse(since)) return false;
    if ((await relay.redis.del(relay.keys.alert(destination, 'down'))) !== 1) return false;
    this.raise('destination-recovered', {
      destination, destinationType: this.typeOf(destination), downSince: since,
      downForMs: Math.max(0, Date.parse(health.lastSuccessAt) - Date.parse(since)), lastSuccessAt: health.lastSuccessAt,
    });
    return true;
  }

  /** `queue-recovered` once a queue alerted as waiting too long is under the threshold again (once per episode, as above). */
  async queueRecovered(destination: string, waiting: number, thresholdMs: number): Promise<boolean> {
    const relay = this.options.relay;
    if (!relay) return false;
    const key = relay.keys.alert(destination, 'slow');
    const since = await relay.redis.get(key);
    if (!since || (await relay.redis.del(key)) !== 1) return false;
    this.raise('queue-recovered', { destination, destinationType: this.typeOf(destination), slowSince: since, waiting, thresholdMs });
    return true;
  }

  /** Remembers (in Redis, for every process) that a destination is in a bad episode since now, unless it already is. */
  private async markEpisode(destination: string, episode: 'down' | 'slow'): Promise<void> {
    const relay = this.options.relay;
    if (!relay) return;
    try {
      await withTimeout(relay.redis.set(relay.keys.alert(destination, episode), new Date().toISOString(), 'EX', EPISODE_TTL_SECONDS, 'NX'), this.options.lookupTimeoutMs ?? 2000);
    } catch (err) {
      this.log.warn({ err: this.redact((err as Error).message), destination }, 'could not remember the alert episode; its recovery will not be alerted');
    }
  }

  /**
   * True the first time a (destination, kind) is seen inside `windowMs`: a Redis mark (shared by
   * every process) when there is a relay, else only this process's memory. When Redis cannot
   * answer, alerting twice is better than not at all.
   */
  async firstWithin(destination: string, kind: string, windowMs: number): Promise<boolean> {
    const memoryKey = `${destination}\u0000${kind}`;
    const now = Date.now();
    const last = this.recent.get(memoryKey);
    if (last !== undefined && now - last < windowMs) return false;
    this.recent.set(memoryKey, now);
    const relay = this.options.relay;
    if (!relay) return true;
    try {
      const key = relay.keys.alert(destination, kind);
      const set = await withTimeout(relay.redis.set(key, String(now), 'PX', Math.max(1, Math.round(windowMs)), 'NX'), this.options.lookupTimeoutMs ?? 2000);
      return set === 'OK';
    } catch {
      return true;
    }
  }

  /** Resolves once every queued alert webhook has been sent or given up on. */
  async idle(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.idle()));
  }

  /** Gives alert webhooks in flight `timeoutMs` to finish (shutdown). */
  async close(timeoutMs = 5000): Promise<void> {
    await Promise.all(this.targets.map((t) => t.close(timeoutMs)));
  }

  private raise<T extends AlertType>(type: T, data: AlertDataByType[T]): void {
    const payload: AlertPayload<T> = { type, timestamp: new Date().toISOString(), data };
    const fields: Record<string, unknown> = { alert: type, ...data };
    this.log[ALERT_LEVEL[type]](fields, `alert: ${type as string}`);
    for (const t of this.targets) t.send(payload as AlertPayload);
  }

  private async lookup(leadId: string, destination: string): Promise<{ lead?: Lead; record?: DeliveryRecord }> {
    const relay = this.options.relay;
    if (!relay) return {};
    try {
      const [lead, record] = await withTimeout(Promise.all([relay.leads.getLead(leadId), relay.leads.getRecord(leadId, destination)]), this.options.lookupTimeoutMs ?? 2000);
      return { ...(lead ? { lead } : {}), ...(record ? { record } : {}) };
    } catch {
      return {};
    }
  }

  private typeOf(destination: string): string {
    return this.options.config.destinations.find((d) => d.id === destination)?.type ?? 'unknown';
  }

  private redact(text: string): string {
    return this.options.redactor ? this.options.redactor.redact(text) : text;
  }
}
