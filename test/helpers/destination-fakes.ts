import { TableClient } from '@azure/data-tables';
import { leadRecordId } from '../../packages/destinations/src/dynamics/lead-record-id.js';
import { AzureAdServer } from '../fakes/azure-ad/index.js';
import { DataverseServer } from '../fakes/dataverse/index.js';
import { FakeMarketo, type FakeMarketoOptions } from '../fakes/marketo/index.js';
import { WebhookReceiver, type WebhookReceiverOptions } from '../fakes/webhook-receiver/index.js';
import type { TlsCert } from './tls-cert.js';
import { uniquePrefix } from './unique.js';

export interface DestinationFakesOptions {
  /** Azurite's table endpoint (the global setup's `inject('azuriteConnectionString')`). */
  azuriteConnectionString: string;
  /** The test certificate the fake Azure AD serves (MSAL insists on https). */
  tls: TlsCert;
  webhook?: WebhookReceiverOptions;
  marketo?: FakeMarketoOptions;
}

/** One expected lead: its id, the email it was sent with, and whether Marketo's `match` takes it. */
export interface ExpectedLead {
  id: string;
  email: string;
  toMarketo: boolean;
}

/** What each destination's store holds after a run, reduced to what idempotency is judged by. */
export interface DestinationInspection {
  table: { entities: number; uniqueRowKeys: number; missing: string[]; unexpected: string[] };
  dynamics: { records: number; missing: string[]; unexpected: string[]; writes: number; maxWritesPerRecord: number };
  marketo: { records: number; duplicates: { value: string; ids: number[] }[]; missing: string[]; unexpected: string[]; writes: number; maxWritesPerRecord: number };
  webhook: {
    acceptedIds: number;
    /** Extra 2xx deliveries beyond one per lead (at-least-once repeats). */
    duplicateDeliveries: number;
    duplicateIds: number;
    /** Leads whose 2xx deliveries carried more than one webhook-id (must be none). */
    leadsWithSeveralIds: string[];
    /** Leads that never got a 2xx. */
    missing: string[];
    /** Requests whose Standard Webhooks signature did not verify. */
    badSignatures: number;
  };
}

const TENANT = '7d1f2c3e-5a6b-4c8d-9e0f-1a2b3c4d5e6f';
const CLIENT_ID = 'a11ce000-2222-4333-8444-555566667777';
/** Distinctive, so a leak into logs would be recognisable. */
const CLIENT_SECRET = 'Fk~cHaOs.sEcReT-0b1c2d3e4f_Q';
const WEBHOOK_SECRET = `whsec_${Buffer.from('leadrelay-chaos-signing-key-32by').toString('base64')}`;

/**
 * Every idempotent destination plus a webhook, as fakes on loopback: an HTTP webhook receiver
 * (`type: https`, Standard Webhooks signing), a table in Azurite (`azure-table`), fake Azure AD +
 * Dataverse (`dynamics`), and a fake Marketo (`marketo`, upsert by email). Writes the `destinations:`
 * YAML for them and reads back what each store holds.
 */
export class DestinationFakes {
  readonly table = uniquePrefix('Leads').replace(/[^A-Za-z0-9]/g, '');

  private constructor(
    readonly receiver: WebhookReceiver,
    readonly marketo: FakeMarketo,
    readonly ad: AzureAdServer,
    readonly dv: DataverseServer,
    private readonly azurite: string,
  ) {}

  static async start(options: DestinationFakesOptions): Promise<DestinationFakes> {
    const started: { stop(): Promise<void> }[] = [];
    try {
      const receiver = await WebhookReceiver.start({ signingSecret: WEBHOOK_SECRET, ...options.webhook });
      started.push(receiver);
      const marketo = await FakeMarketo.start(options.marketo);
      started.push(marketo);
      const ad = await AzureAdServer.start({ tls: options.tls });
      started.push({ stop: () => ad.close() });
      const dv = await DataverseServer.start({ tokens: ad });
      started.push({ stop: () => dv.close() });
      ad.addTenant(TENANT);
      ad.addApp(TENANT, { clientId: CLIENT_ID, secret: CLIENT_SECRET });
      return new DestinationFakes(receiver, marketo, ad, dv, options.azuriteConnectionString);
    } catch (e) {
      await Promise.allSettled(started.map((s) => s.stop()));
      throw e;
    }
  }

  /**
   * The `destinations:` entries (YAML, indented for a top-level list): `hook`, `table`, `crm`, `mkto`, or
   * only those named in `only`. `marketoMatch` is a YAML flow mapping for Marketo's `match` (e.g. `{ offers: ["contoso.*"] }`).
   */
  destinationsYaml(options: { marketoMatch?: string; hookConcurrency?: number; only?: string[] } = {}): string {
    const entries: Record<string, string> = {
      hook: `
  - id: hook
    type: https
    url: "${this.receiver.url('/leads')}"
    signingSecret: "${WEBHOOK_SECRET}"
    timeout: 5s
    concurrency: ${options.hookConcurrency ?? 8}`,
      table: `
  - id: table
    type: azure-table
    connectionString: "${this.azurite}"
    table: ${this.table}`,
      crm: `
  - id: crm
    type: dynamics
    instanceUrl: "${this.dv.url}"
    auth: { mode: client-secret, tenantId: "${TENANT}", clientId: "${CLIENT_ID}", clientSecret: "${CLIENT_SECRET}", authorityHost: "${this.ad.authorityHost}" }`,
      mkto: `
  - id: mkto
    type: marketo
    restUrl: "${this.marketo.url}"
    clientId: "${this.marketo.clientId}"
    clientSecret: "${this.marketo.clientSecret}"
    batchWait: 200ms
${options.marketoMatch ? `    match: ${options.marketoMatch}\n` : ''}`,
    };
    return Object.entries(entries).filter(([id]) => !options.only || options.only.includes(id)).map(([, yaml]) => yaml).join('') + '\n';
  }

  /** Secrets in the YAML, for checks that no log line carries them. */
  get secrets(): string[] {
    return [CLIENT_SECRET, WEBHOOK_SECRET, this.marketo.clientSecret];
  }

  async tableEntities(): Promise<{ partitionKey?: string; rowKey?: string }[]> {
    const client = TableClient.fromConnectionString(this.azurite, this.table, { allowInsecureConnection: true });
    const rows: { partitionKey?: string; rowKey?: string }[] = [];
    try {
      for await (const e of client.listEntities({ queryOptions: { select: ['PartitionKey', 'RowKey'] } })) rows.push(e);
    } catch (e) {
      // No lead delivered yet: the table does not exist.
      if ((e as { statusCode?: number }).statusCode !== 404) throw e;
    }
    return rows;
  }

  /** Reads every store and compares it with the leads that should be there. */
  async inspect(expected: ExpectedLead[]): Promise<DestinationInspection> {
    const ids = new Set(expected.map((l) => l.id));

    const rows = await this.tableEntities();
    const rowKeys = new Set(rows.map((r) => r.rowKey!));

    const recordOf = new Map(expected.map((l) => [leadRecordId(l.id), l.id]));
    const records = [...this.dv.leads.keys()];
    const writesPerRecord = new Map<string, number>();
    for (const w of this.dv.leadWrites) {
      if (typeof w.outcome !== 'number' || w.outcome >= 300) continue;
      const id = /leads\(([0-9a-f-]{36})\)/i.exec(w.path)?.[1]?.toLowerCase();
      if (id) writesPerRecord.set(id, (writesPerRecord.get(id) ?? 0) + 1);
    }

    const toMarketo = expected.filter((l) => l.toMarketo);
    const marketoEmails = new Set(toMarketo.map((l) => l.email.toLowerCase()));
    const stored = this.marketo.leads.map((l) => String(l.fields.email ?? '').toLowerCase());
    const storedSet = new Set(stored);

    const leadOfEmail = new Map(expected.map((l) => [l.email.toLowerCase(), l.id]));
    const webhookIdsOfLead = new Map<string, Set<string>>();
    let badSignatures = 0;
    for (const r of this.receiver.requests) {
      if (r.signatureValid === false) badSignatures++;
      if (typeof r.outcome !== 'number' || r.outcome >= 300) continue;
      const email = String((r.json as { UserDetails?: { Email?: string } } | undefined)?.UserDetails?.Email ?? '').toLowerCase();
      const leadId = leadOfEmail.get(email) ?? `unknown:${email}`;
      webhookIdsOfLead.set(leadId, (webhookIdsOfLead.get(leadId) ?? new Set()).add(r.webhookId ?? 'none'));
    }
    const accepted = this.receiver.acceptedIds();
    const duplicateDeliveries = accepted.reduce((s, id) => s + this.receiver.acceptedCount(id) - 1, 0);

    return {
      table: {
        entities: rows.length,
        uniqueRowKeys: rowKeys.size,
        missing: [...ids].filter((id) => !rowKeys.has(id)),
        unexpected: [...rowKeys].filter((k) => !ids.has(k)),
      },
      dynamics: {
        records: records.length,
        missing: [...recordOf.keys()].filter((r) => !this.dv.leads.has(r)).map((r) => recordOf.get(r)!),
        unexpected: records.filter((r) => !recordOf.has(r)),
        writes: [...writesPerRecord.values()].reduce((a, b) => a + b, 0),
        maxWritesPerRecord: Math.max(0, ...writesPerRecord.values()),
      },
      marketo: {
        records: this.marketo.uniqueLeadCount,
        duplicates: this.marketo.duplicates('email'),
        missing: [...marketoEmails].filter((e) => !storedSet.has(e)),
        unexpected: stored.filter((e) => !marketoEmails.has(e)),
        writes: this.marketo.leads.reduce((sum, l) => sum + l.writes, 0),
        maxWritesPerRecord: Math.max(0, ...this.marketo.leads.map((l) => l.writes)),
      },
      webhook: {
        acceptedIds: accepted.length,
        duplicateDeliveries,
        duplicateIds: this.receiver.duplicateIds().length,
        leadsWithSeveralIds: [...webhookIdsOfLead].filter(([, s]) => s.size > 1).map(([id]) => id),
        missing: expected.filter((l) => !webhookIdsOfLead.has(l.id)).map((l) => l.id),
        badSignatures,
      },
    };
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.receiver.stop(), this.marketo.stop(), this.dv.close(), this.ad.close()]);
  }
}
