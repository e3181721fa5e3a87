import { scrubCustomerData, type Lead, type SecretRedactor, type SerializedDeliveryError } from '@leadrelay/core';
import type { LeadRelayConfig } from '@leadrelay/config';
import type { Logger } from '@leadrelay/observability';
import { healthView, withTimeout, type DeliveryRecord, type DestinationHealth, type Relay } from '@leadrelay/queue';
import { ALERT_LEVEL, type AlertDataByType, type AlertPayload, type AlertType, type QueueWaitingTooLongData, type ReconciliationGapData,
  type SourceFailingData, type SourceRecoveredData } from './alert.js';
import { AlertWebhook, type AlertWebhookOptions } from './alert-webhook.js';
import { DeadLetterGroups, type DeadLetterSummary } from './dead-letter-groups.js';

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
  /**
   * A destination's first dead letter opens a window this long (default 60 s): it is alerted at once, the
   * window's further dead letters are counted (in Redis, across workers) and sent as one `leads-dead-lettered`
   * summary when it ends. 0 alerts every dead letter on its own. Without a relay there is no grouping.
   */
  deadLetterGroupWindowMs?: number;
}

/** A bad episode no recovery ended is forgotten after this long (a destination removed, a pause never lifted). */
const EPISODE_TTL_SECONDS = 30 * 86_400;

const WITHHELD = 'error text withheld: the lead could not be read to remove customer data from it';

/** The latest attempts the `failing` state is read from (healthView in @leadrelay/queue looks at as many). */
const FAILING_WINDOW = 10;

const FAILING_REMEDIATION = 'None needed if it passes: LeadRelay keeps retrying with backoff. If it keeps failing, check that the destination is up, '
  + 'reachable from the worker and accepts its credentials; `leadrelay stats` and the dashboard show the last error. Leads that run out of attempts are dead-lettered.';

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
  private readonly deadLetters?: DeadLetterGroups;

  constructor(private readonly options: AlertsOptions) {
    this.log = options.logger.child({ component: 'alerts' });
    const windowMs = options.deadLetterGroupWindowMs ?? 60_000;
    if (options.relay && windowMs > 0) {
      this.deadLetters = new DeadLetterGroups({ relay: options.relay, logger: this.log, windowMs, timeoutMs: options.lookupTimeoutMs ?? 2000, onSummary: (s) => this.deadLetterSummary(s) });
    }
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
      await this.markPaused(e.destination);
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

  /** A pull source's polls keep failing (SourceService emits it once per streak, so no de-duplication here). */
  sourceFailing(data: SourceFailingData): void {
    this.raise('source-failing', { ...data, lastError: this.redact(data.lastError), remediation: this.redact(data.remediation) });
  }

  /** A source that raised `source-failing` polled successfully again. */
  sourceRecovered(data: SourceRecoveredData): void {
    this.raise('source-recovered', data);
  }

  /** The reconciliation found missing leads (ids and reasons only: never customer data). */
  reconciliationGap(data: ReconciliationGapData): void {
    this.raise('reconciliation-gap', { ...data, examples: data.examples.slice(0, 20).map((m) => ({ ...m, reason: this.redact(m.reason) })) });
  }

  /**
   * A lead was dead-lettered at a destination: alerted at once when it is the first in the destination's
   * grouping window, else counted for the window's `leads-dead-lettered` summary. Returns which.
   */
  async leadDeadLettered(e: { leadId: string; destination: string; error: SerializedDeliveryError }): Promise<'alerted' | 'grouped' | 'failed'> {
    if (this.deadLetters) {
      try {
        if ((await this.deadLetters.record(e.destination, e.leadId, e.error.code)) === 'grouped') return 'grouped';
      } catch (err) {
        // Alerting each dead letter is better than losing one.
        this.log.warn({ err: this.redact((err as Error).message), destination: e.destination }, 'could not group a dead letter; alerting it on its own');
      }
    }
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
      return 'alerted';
    } catch (err) {
      this.log.error({ err: this.redact((err as Error).message), destination: e.destination, leadId: e.leadId }, 'could not raise a lead-dead-lettered alert');
      return 'failed';
    }
  }

  /**
   * Sends the `leads-dead-lettered` summaries of `destination`'s ended windows (the window's own timer does
   * too; a check here covers a process that died first). With `force`, open windows as well (shutdown).
   */
  async flushDeadLetters(destination: string, options: { force?: boolean; now?: number } = {}): Promise<number> {
    return this.deadLetters ? this.deadLetters.flush(destination, options) : 0;
  }

  private deadLetterSummary(s: DeadLetterSummary): void {
    this.raise('leads-dead-lettered', {
      destination: s.destination, destinationType: this.typeOf(s.destination), count: s.count,
      since: new Date(s.since).toISOString(), until: new Date(s.until).toISOString(), windowMs: s.until - s.since,
      codes: s.codes, examples: s.examples.slice(0, 20),
      remediation: `See them with \`leadrelay dlq list --destination ${s.destination} --since ${new Date(s.since).toISOString()}\`; fix the cause, then \`leadrelay dlq replay --destination ${s.destination} --all\`.`,
    });
  }

  /** A destination's oldest waiting lead has waited too long (QueueWaitMonitor decides when). */
  async queueWaitingTooLong(data: QueueWaitingTooLongData): Promise<void> {
    this.raise('queue-waiting-too-long', { ...data, ...(data.lastError ? { lastError: this.redact(data.lastError) } : {}) });
    await this.markEpisode(data.destination, 'slow');
  }

  /**
   * `destination-recovered` when a destination paused (or failing) with an alert is running again and has
   * delivered since the alert. The episode's mark is deleted by whichever process sees it first, so one
   * alert per episode across every worker. True when this call raised one. `health`: read now unless given.
   */
  async destinationRecovered(destination: string, health?: DestinationHealth): Promise<boolean> {
    const relay = this.options.relay;
    if (!relay) return false;
    const [down, failing] = await relay.redis.mget(relay.keys.alert(destination, 'down'), relay.keys.alert(destination, 'failing'));
    if (!down && !failing) return false;
    const h = health ?? (await relay.health(destination));
    let raised = false;
    for (const [since, episode] of [[down, 'paused'], [failing, 'failing']] as const) {
      if (!since || h.paused || !h.lastSuccessAt || Date.parse(h.lastSuccessAt) < Date.parse(since)) continue;
      // A failing streak is over once most recent attempts succeed, not at its first success.
      if (episode === 'failing' && healthView(h).state !== 'running') continue;
      if ((await relay.redis.del(relay.keys.alert(destination, episode === 'paused' ? 'down' : 'failing'))) !== 1) continue;
      this.raise('destination-recovered', {
        destination, destinationType: this.typeOf(destination), downSince: since,
        downForMs: Math.max(0, Date.parse(h.lastSuccessAt) - Date.parse(since)), lastSuccessAt: h.lastSuccessAt, after: episode,
      });
      raised = true;
    }
    return raised;
  }

  /**
   * `destination-failing` when most of a destination's latest attempts failed while it is not paused (the
   * `failing` state): once per episode across every worker (a Redis mark, deleted by its recovery).
   */
  async destinationFailing(destination: string, health?: DestinationHealth): Promise<boolean> {
    const relay = this.options.relay;
    if (!relay) return false;
    const h = health ?? (await relay.health(destination));
    const view = healthView(h);
    if (view.state !== 'failing') return false;
    // Failures from before a pause that was just lifted are not a new episode: wait for one after the resume.
    const resumedAt = await relay.redis.get(relay.keys.alert(destination, 'resumed'));
    if (resumedAt && (!h.lastError || h.lastError.at <= resumedAt)) return false;
    const set = await relay.redis.set(relay.keys.alert(destination, 'failing'), new Date().toISOString(), 'EX', EPISODE_TTL_SECONDS, 'NX');
    if (set !== 'OK') return false;
    const recent = h.recent.slice(-FAILING_WINDOW);
    const failures = [...recent].filter((c) => c === 'x').length;
    this.raise('destination-failing', {
      destination, destinationType: this.typeOf(destination),
      recentFailures: failures, recentAttempts: recent.length, failureRatio: Math.round((failures / recent.length) * 1000) / 1000,
      // The worker stored it with the lead's customer data already replaced; redacted here for the config's secrets.
      ...(view.fields.lastError ? { lastError: this.redact(view.fields.lastError) } : {}),
      ...(view.fields.lastErrorCode ? { lastErrorCode: view.fields.lastErrorCode } : {}),
      ...(view.fields.lastErrorAt ? { lastErrorAt: view.fields.lastErrorAt } : {}),
      remediation: this.redact(h.lastError && h.lastError.kind !== 'transient' ? h.lastError.remediation : FAILING_REMEDIATION),
    });
    return true;
  }

  /**
   * `destination-resumed` when a destination paused with an alert is no longer paused, whoever lifted the
   * pause; once per pause across every worker (the pause's mark is deleted by the first to see it).
   */
  async destinationResumed(destination: string, health?: DestinationHealth): Promise<boolean> {
    const relay = this.options.relay;
    if (!relay) return false;
    const key = relay.keys.alert(destination, 'paused');
    const pausedSince = await relay.redis.get(key);
    if (!pausedSince) return false;
    const h = health ?? (await relay.health(destination));
    if (h.paused || (await relay.redis.del(key)) !== 1) return false;
    // A worker with a changed configuration records when it superseded the pausing one; an operator's resume clears those records.
    const fields = await relay.redis.hgetall(relay.keys.destination(destination));
    const byConfig = Object.entries(fields).filter(([k, v]) => k.startsWith('superseded:') && Date.parse(v) >= Date.parse(pausedSince)).map(([, v]) => v).sort();
    const resumedAt = byConfig[0] ?? new Date().toISOString();
    await relay.redis.set(relay.keys.alert(destination, 'resumed'), resumedAt, 'EX', EPISODE_TTL_SECONDS);
    this.raise('destination-resumed', {
      destination, destinationType: this.typeOf(destination), pausedSince, resumedAt,
      how: byConfig.length > 0 ? 'configuration-change' : 'operator',
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

  /** Remembers (for every process) since when an alerted destination is paused: the pause's own time when it can be read. */
  private async markPaused(destination: string): Promise<void> {
    const relay = this.options.relay;
    if (!relay) return;
    try {
      const timeout = this.options.lookupTimeoutMs ?? 2000;
      const health = await withTimeout(relay.health(destination), timeout).catch(() => undefined);
      const since = health?.pause?.at ?? new Date().toISOString();
      // The pause is the worse state: its recovery ends a failing episode too, so only one recovery is said.
      await withTimeout(Promise.all([
        relay.redis.set(relay.keys.alert(destination, 'paused'), since, 'EX', EPISODE_TTL_SECONDS, 'NX'),
        relay.redis.del(relay.keys.alert(destination, 'failing')),
      ]), timeout);
    } catch (err) {
      this.log.warn({ err: this.redact((err as Error).message), destination }, 'could not remember the pause; its resume will not be alerted');
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

  /**
   * Sends this process's open dead-letter windows now, while Redis is still there (shutdown, before the
   * relay closes): their counts would otherwise wait for another worker's check.
   */
  async flushPending(): Promise<void> {
    await this.deadLetters?.close({ flush: true });
  }

  /** Gives alert webhooks in flight `timeoutMs` to finish (shutdown). */
  async close(timeoutMs = 5000): Promise<void> {
    await this.deadLetters?.close();
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
