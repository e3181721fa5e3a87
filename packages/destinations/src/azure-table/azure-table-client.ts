import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { TableClient, type TableEntity, type TransactionAction } from '@azure/data-tables';
import {
  DeliveryError, InvalidConfigurationError, SecretRedactor, ThrottledError, classifyError, isLoopbackHost, type Lead,
} from '@leadrelay/core';
import type { BatchItemResult, CheckResult, CommonDestinationSettings, DeliverOptions, Delivered, DestinationClient, DestinationContext } from '../destination.js';
import { abortable, proxyFor } from '../shared/index.js';
import { classifyAzureTableFailure, readTableFailure } from './azure-table-errors.js';
import { leadEntity } from './azure-table-mapping.js';
import { MAX_TRANSACTION_SIZE, tableEndpoint, type AzureTableSettings } from './settings.js';

export { partitionKeyOf } from './azure-table-mapping.js';


export interface AzureTableClientOptions {
  /** Longest one storage call may take before it counts as a transient failure (default 30 000 ms). */
  requestTimeoutMs?: number;
  /** Per-entity creates run this many at a time when a transaction falls back (default 8). */
  fallbackConcurrency?: number;
}

type Entity = TableEntity<Record<string, unknown>>;
type Prepared = { index: number; lead: Lead; entity: Entity; warnings: string[] };

/**
 * Writes each lead as one entity (README: Destinations → Azure Table) to an Azure Table, creating the table once if missing.
 * RowKey = lead id, so a retried create that finds the entity (409 EntityAlreadyExists) is a delivery.
 * Batches go as entity-group transactions of up to 100 creates in one partition; a transaction the service
 * rejects because of one entity falls back to one create per entity, so each lead gets its own result.
 */
export class AzureTableClient implements DestinationClient {
  private readonly table?: TableClient;
  /** Set when the connection string cannot even build a client: every call reports it. */
  private readonly setupError?: InvalidConfigurationError;
  private tableReady?: Promise<void>;
  private readonly redactor = new SecretRedactor();
  private agent?: HttpAgent;
  private readonly what: string;
  private readonly timeoutMs: number;
  private readonly fallbackConcurrency: number;

  constructor(private readonly settings: AzureTableSettings & CommonDestinationSettings, private readonly ctx: DestinationContext, options: AzureTableClientOptions = {}) {
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.fallbackConcurrency = options.fallbackConcurrency ?? 8;
    this.redactor.addFromObject({ connectionString: settings.connectionString });
    const endpoint = tableEndpoint(settings.connectionString);
    this.what = `Azure Table storage (${endpoint ? safeEndpoint(endpoint) : 'unknown endpoint'}, table ${settings.table})`;
    try {
      const url = endpoint ? new URL(endpoint) : undefined;
      this.table = TableClient.fromConnectionString(settings.connectionString, settings.table, {
        // Plain http only where config allows it (loopback or allowInsecure); UseDevelopmentStorage=true sets it itself.
        allowInsecureConnection: url?.protocol === 'http:' && (settings.allowInsecure || isLoopbackHost(url.hostname)),
        // The engine retries with backoff and honours Retry-After; SDK retries would hold a worker for seconds.
        retryOptions: { maxRetries: 0 },
        ...this.transport(endpoint),
      });
    } catch (e) {
      this.setupError = new InvalidConfigurationError(`${this.what}: the connection string is not usable: ${this.redact(e instanceof Error ? e.message : String(e))}`, {
        destinationCode: 'InvalidConnectionString',
        remediation: `Copy the connection string from the storage account's "Access keys" page (DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=core.windows.net) into this destination's connectionString, then \`leadrelay resume ${settings.id}\`.`,
      });
    }
  }

  /**
   * The SDK's proxy: `network.proxy` or HTTPS_PROXY as its proxyOptions (it tunnels https with CONNECT); when the host
   * is not proxied, an agent of our own, which keeps the SDK from applying an environment proxy that network.noProxy excludes.
   */
  private transport(endpoint: string | undefined): { proxyOptions: { host: string; port: number; username?: string; password?: string } } | { agent: HttpAgent } | Record<string, never> {
    if (!endpoint) return {};
    const proxy = proxyFor(endpoint, this.ctx.network);
    if (proxy) {
      const u = new URL(proxy);
      return { proxyOptions: { host: `${u.protocol}//${u.hostname}`, port: Number(u.port || 80), ...(u.username ? { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : {}) } };
    }
    this.agent = endpoint.startsWith('https:') ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    return { agent: this.agent };
  }

  async close(): Promise<void> {
    this.agent?.destroy();
  }

  deliver(lead: Lead, options: DeliverOptions = {}): Promise<Delivered> {
    return abortable(this.deliverOne(lead), options.signal, this.what);
  }

  private async deliverOne(lead: Lead): Promise<Delivered> {
    const table = this.client();
    const { entity, warnings } = this.entityOf(lead);
    await this.ensureTable();
    const result = await this.createOne(table, entity);
    if (result instanceof DeliveryError) throw result;
    return this.delivered({ entity, warnings });
  }

  /**
   * Up to 100 leads of one partition per transaction (the engine batches by `partitionKeyOf`; other
   * partitions or larger calls are split here anyway). Throws only when the whole call failed.
   */
  deliverBatch(leads: Lead[], options: DeliverOptions = {}): Promise<BatchItemResult[]> {
    return abortable(this.sendBatch(leads), options.signal, this.what);
  }

  private async sendBatch(leads: Lead[]): Promise<BatchItemResult[]> {
    const table = this.client();
    const results: (BatchItemResult | undefined)[] = new Array(leads.length);
    const groups = new Map<string, Prepared[][]>();
    const repeats: Prepared[] = [];
    for (const [index, lead] of leads.entries()) {
      let entity: Entity;
      let warnings: string[];
      try {
        ({ entity, warnings } = this.entityOf(lead));
      } catch (e) {
        if (e instanceof InvalidConfigurationError) throw e; // a mapping every lead shares is wrong
        results[index] = { ok: false, error: classifyError(e) };
        continue;
      }
      const chunks = groups.get(entity.partitionKey) ?? [[]];
      groups.set(entity.partitionKey, chunks);
      let chunk = chunks.at(-1)!;
      if (chunk.some((p) => p.entity.rowKey === entity.rowKey)) {
        // The same lead twice in one call: a transaction may hold an entity once (InvalidDuplicateRow).
        repeats.push({ index, lead, entity, warnings });
        continue;
      }
      if (chunk.length >= MAX_TRANSACTION_SIZE) chunks.push((chunk = []));
      chunk.push({ index, lead, entity, warnings });
    }
    const pending = [...groups.values()].flat().filter((c) => c.length > 0);
    if (pending.length > 0 || repeats.length > 0) await this.ensureTable();
    for (const chunk of pending) {
      for (const [i, r] of (await this.submitChunk(table, chunk)).entries()) results[chunk[i]!.index] = r;
    }
    for (const [i, r] of (await this.createEach(table, repeats)).entries()) results[repeats[i]!.index] = r;
    return results.map((r) => r!);
  }

  /**
   * Proves the key without writing an entity: creates the table if missing (or finds it). A SAS that may
   * not create tables is proven by reading one page of the table instead.
   */
  async check(): Promise<CheckResult> {
    if (this.setupError) return { ok: false, message: this.setupError.message, remediation: this.setupError.remediation };
    const table = this.client();
    try {
      await table.createTable({ abortSignal: AbortSignal.timeout(this.timeoutMs) });
      return { ok: true, message: `${this.what}: the key works and the table exists (no entity was written)` };
    } catch (e) {
      if (readTableFailure(e).code?.startsWith('AuthorizationPermission')) {
        try {
          await table.listEntities({ abortSignal: AbortSignal.timeout(this.timeoutMs), queryOptions: { select: ['RowKey'] } }).byPage({ maxPageSize: 1 }).next();
          return { ok: true, message: `${this.what}: the key can read the table (it may not create tables; no entity was written)` };
        } catch (e2) {
          e = e2;
        }
      }
      const err = this.classify(e);
      return { ok: false, message: err.message, remediation: err.remediation };
    }
  }

  private client(): TableClient {
    if (this.setupError) throw this.setupError;
    return this.table!;
  }

  /** The entity, and what was truncated to fit (a warning on the lead's timeline once delivered). */
  private entityOf(lead: Lead): { entity: Entity; warnings: string[] } {
    const { entity, warnings } = leadEntity(lead, this.settings.fields);
    return { entity, warnings };
  }

  private delivered(p: { entity: Entity; warnings: string[] }): Delivered {
    return { remoteId: this.remoteId(p.entity), ...(p.warnings.length > 0 ? { warnings: p.warnings } : {}) };
  }

  /** Creates the table once per client; `createTable` already treats 409 TableAlreadyExists as success. */
  private ensureTable(): Promise<void> {
    this.tableReady ??= this.client().createTable({ abortSignal: AbortSignal.timeout(this.timeoutMs) }).catch((e: unknown) => {
      // A SAS without table-create permission may still write to an existing table: let the write decide.
      if (readTableFailure(e).code?.startsWith('AuthorizationPermission')) return;
      this.tableReady = undefined;
      throw this.classify(e);
    });
    return this.tableReady;
  }

  /** One create; 409 EntityAlreadyExists means an earlier attempt landed: delivered. Returns the error rather than throwing. */
  private async createOne(table: TableClient, entity: Entity, tableRetry = true): Promise<true | DeliveryError> {
    try {
      await table.createEntity(entity, { abortSignal: AbortSignal.timeout(this.timeoutMs) });
      return true;
    } catch (e) {
      const f = readTableFailure(e);
      if (f.status === 409 && f.code === 'EntityAlreadyExists') return true;
      if (f.status === 404 && f.code === 'TableNotFound' && tableRetry) {
        // Deleted while we were running: create it again, once.
        this.tableReady = undefined;
        await this.ensureTable();
        return this.createOne(table, entity, false);
      }
      return this.classify(e);
    }
  }

  private async submitChunk(table: TableClient, chunk: Prepared[], tableRetry = true): Promise<BatchItemResult[]> {
    if (chunk.length === 1) return this.createEach(table, chunk);
    try {
      const actions: TransactionAction[] = chunk.map((p) => ['create', p.entity]);
      await table.submitTransaction(actions, { abortSignal: AbortSignal.timeout(this.timeoutMs) });
      return chunk.map((p) => ({ ok: true, ...this.delivered(p) }));
    } catch (e) {
      const f = readTableFailure(e);
      if (f.status === 404 && f.code === 'TableNotFound' && tableRetry) {
        this.tableReady = undefined;
        await this.ensureTable();
        return this.submitChunk(table, chunk, false);
      }
      // All-or-nothing: nothing was written. When one entity is to blame (already there, invalid, too big),
      // create them one by one so each lead gets its own outcome.
      if (f.status === 409 || f.status === 400 || f.status === 413) {
        this.ctx.logger.debug({ destination: this.settings.id, code: f.code, index: f.index, size: chunk.length }, 'transaction refused; creating entities one by one');
        return this.createEach(table, chunk);
      }
      throw this.classify(e);
    }
  }

  /**
   * Per-entity creates with bounded concurrency. A failure that concerns the whole destination (throttling,
   * credentials) is thrown so the engine pauses it; entities already written come back as 409 next time.
   */
  private async createEach(table: TableClient, items: Prepared[]): Promise<BatchItemResult[]> {
    const results: BatchItemResult[] = new Array(items.length);
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        const i = next++;
        const r = await this.createOne(table, items[i]!.entity);
        results[i] = r === true ? { ok: true, ...this.delivered(items[i]!) } : { ok: false, error: r };
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.fallbackConcurrency, items.length) }, worker));
    const wide = results.find((r): r is { ok: false; error: DeliveryError } => !r.ok && (r.error instanceof ThrottledError || r.error instanceof InvalidConfigurationError));
    if (wide) throw wide.error;
    return results;
  }

  private remoteId(entity: Entity): string {
    return `${this.settings.table}(PartitionKey='${entity.partitionKey}',RowKey='${entity.rowKey}')`;
  }

  private classify(e: unknown): DeliveryError {
    if (e instanceof DeliveryError) return e;
    return classifyAzureTableFailure(e, { what: this.what, destinationId: this.settings.id, timeoutMs: this.timeoutMs, redact: (t) => this.redact(t) });
  }

  private redact(text: string): string {
    return this.redactor.redact(text).replace(/([?&;]sig=)[^&;\s"']+/gi, '$1[redacted]');
  }
}

/** An endpoint for messages: no query string (a SAS would be there). */
function safeEndpoint(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    return `${u.origin}${u.pathname.replace(/\/$/, '')}`;
  } catch {
    return 'unknown endpoint';
  }
}
