import { TableClient } from '@azure/data-tables';
import type { Lead } from '@leadrelay/core';
import { AzureAdServer } from '../../../../test/fakes/azure-ad/index.js';
import { DataverseServer } from '../../../../test/fakes/dataverse/index.js';
import { FakeMarketo, STANDARD_LEAD_FIELDS } from '../../../../test/fakes/marketo/index.js';
import { FakeSalesforce, REST_ERRORS } from '../../../../test/fakes/salesforce/index.js';
import { WebhookReceiver } from '../../../../test/fakes/webhook-receiver/index.js';
import { AzureTableClient } from '../azure-table/azure-table-client.js';
import { azureTableSettings } from '../azure-table/settings.js';
import { DynamicsClient } from '../dynamics/dynamics-client.js';
import { DYNAMICS_LEAD_MAX_LENGTHS } from '../dynamics/dynamics-mapping.js';
import { leadRecordId } from '../dynamics/lead-record-id.js';
import { dynamicsSettings } from '../dynamics/settings.js';
import { HttpsClient } from '../https/https-client.js';
import { webhookIdOf } from '../https/https-mapping.js';
import { httpsSettings } from '../https/settings.js';
import { MarketoClient } from '../marketo/marketo-client.js';
import { marketoSettings } from '../marketo/settings.js';
import { SALESFORCE_LEAD_LENGTHS, WEB_TO_LEAD_LENGTHS } from '../salesforce/salesforce-mapping.js';
import { API_LIMIT_WAIT_MS } from '../salesforce/salesforce-errors.js';
import { SalesforceRestClient } from '../salesforce/salesforce-rest-client.js';
import { SalesforceWebToLeadClient } from '../salesforce/salesforce-web-to-lead-client.js';
import { salesforceSettings } from '../salesforce/settings.js';
import { RATE_LIMIT_WAIT_MS } from '../marketo/marketo-errors.js';
import { TableFaultProxy } from '../azure-table/__tests__/table-fault-proxy.js';
import { truncate } from '../shared/index.js';
import { contractContext as ctx, type ContractHarness } from './contract-kit.js';

const common = (id: string, type: string) => ({ id, type, enabled: true, allowInsecure: false });
const SHORT_MS = 400;
const HANG_MS = 2_000;

const https: ContractHarness = {
  type: 'https', name: 'https',
  async start() {
    const receiver = await WebhookReceiver.start();
    const clients: HttpsClient[] = [];
    return {
      async client(o = {}) {
        const c = new HttpsClient({ ...httpsSettings.parse({ url: receiver.url('/hook'), timeout: o.shortTimeout ? `${SHORT_MS}ms` : '10s' }), ...common('hook', 'https') }, ctx);
        clients.push(c);
        return c;
      },
      inject(f) {
        if (f === 'timeout') receiver.delayNext(1, HANG_MS);
        else if (f === '5xx') receiver.failNext(1, 500);
        else if (f === '429') receiver.failNext(1, 429, { headers: { 'Retry-After': '7' } });
        else if (f === 'auth') receiver.failNext(1, 401);
        else if (f === 'validation') receiver.failNext(1, 400, { body: { error: 'invalid payload' } });
        else receiver.failNext(1, 422, { body: { error: 'lead rejected' } });
      },
      // The receiver's record of a lead is one per webhook-id: a repeat with the same id is the same message.
      async stored(lead: Lead) {
        const id = webhookIdOf('hook', lead.id);
        return receiver.acceptedCount(id) > 0 ? [receiver.requests.find((r) => r.webhookId === id && r.outcome === 200)!.json as Record<string, unknown>] : [];
      },
      limits: {},
      reset: () => { receiver.clear(); receiver.setDefaultReply({ status: 200 }); },
      async close() { await Promise.all(clients.map((c) => c.close())); await receiver.stop(); },
    };
  },
};

const azureTable: ContractHarness = {
  type: 'azure-table', name: 'azure-table',
  async start(env) {
    const proxy = await TableFaultProxy.start(env.azuriteConnectionString);
    const table = `Contract${process.pid}${Date.now().toString(36)}`.replace(/[^A-Za-z0-9]/g, '');
    const reader = TableClient.fromConnectionString(env.azuriteConnectionString, table, { allowInsecureConnection: true });
    return {
      async client(o = {}) {
        return new AzureTableClient({ ...azureTableSettings.parse({ connectionString: proxy.connectionString, table }), ...common('table', 'azure-table') }, ctx, { requestTimeoutMs: o.shortTimeout ? SHORT_MS : 30_000 });
      },
      inject(f, lead) {
        if (f === 'timeout') proxy.failNext(1, { kind: 'createEntity', delayMs: HANG_MS });
        else if (f === '5xx') proxy.failNext(1, { kind: 'createEntity', status: 500, code: 'InternalError', message: 'Server encountered an internal error.' });
        else if (f === '429') proxy.failNext(1, { kind: 'createEntity', status: 503, code: 'ServerBusy', message: 'The server is busy.', retryAfter: '7' });
        else if (f === 'auth') proxy.failNext(1, { kind: 'createEntity', status: 403, code: 'AuthenticationFailed', message: 'Server failed to authenticate the request.' });
        else if (f === 'validation') proxy.failNext(1, { kind: 'createEntity', status: 400, code: 'InvalidInput', message: 'One of the request inputs is not valid.' });
        else proxy.rejectRowKey(lead.id, { status: 400, code: 'PropertyValueTooLarge', message: 'The property value exceeds the maximum allowed size (64KB).' });
      },
      async stored(lead) {
        const rows: Record<string, unknown>[] = [];
        for await (const e of reader.listEntities({ queryOptions: { filter: `RowKey eq '${lead.id}'` } })) rows.push(e);
        return rows;
      },
      // Strings hold 32 K characters (64 KiB UTF-16); keys 512.
      limits: { CustomerInfo: 32_768, Description: 32_768, LeadSource: 32_768, OfferDisplayName: 32_768, partitionKey: 512, rowKey: 512 },
      reset: () => proxy.clear(),
      async close() { await proxy.stop(); },
    };
  },
};

const TENANT = '3c7d1f2e-5a6b-4c8d-9e0f-1a2b3c4d5e6f';
const DYN_CLIENT = 'c0ntr4c7-0000-4000-8000-000000000001';
const DYN_SECRET = 'contract-dynamics-secret';
const dynamics: ContractHarness = {
  type: 'dynamics', name: 'dynamics',
  async start(env) {
    const ad = await AzureAdServer.start({ tls: env.tls });
    const dv = await DataverseServer.start({ tokens: ad });
    ad.addTenant(TENANT);
    ad.addApp(TENANT, { clientId: DYN_CLIENT, secret: DYN_SECRET });
    const clients: DynamicsClient[] = [];
    return {
      async client(o = {}) {
        const s = dynamicsSettings.parse({ instanceUrl: dv.url, auth: { mode: 'client-secret', tenantId: TENANT, clientId: DYN_CLIENT, clientSecret: DYN_SECRET, authorityHost: ad.authorityHost } });
        const c = new DynamicsClient({ ...s, ...common('crm', 'dynamics') }, ctx, { timeoutMs: o.shortTimeout ? SHORT_MS : 30_000 });
        clients.push(c);
        return c;
      },
      inject(f) {
        if (f === 'timeout') dv.injectFault({ kind: 'slow', delayMs: HANG_MS });
        else if (f === '5xx') dv.injectFault({ kind: 'server-error' });
        else if (f === '429') dv.injectFault({ kind: 'throttle', retryAfterSeconds: 7 });
        else if (f === 'auth') dv.injectFault({ kind: 'unauthorized' }, 2);
        else if (f === 'validation') dv.injectFault({ kind: 'reply', status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: { code: '0x80048d19', message: "Error identified in Payload provided by the user for Entity :'leads'" } }) });
        else dv.injectFault({ kind: 'reply', status: 412, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: { code: '0x80040333', message: 'A record was not created or updated because a duplicate of the current record already exists.' } }) });
      },
      async stored(lead) {
        const row = dv.leads.get(leadRecordId(lead.id));
        return row ? [row] : [];
      },
      limits: DYNAMICS_LEAD_MAX_LENGTHS,
      reset: () => dv.clearFaults(),
      async close() { await Promise.all(clients.map((c) => c.close())); await dv.close(); await ad.close(); },
    };
  },
};

const marketo: ContractHarness = {
  type: 'marketo', name: 'marketo',
  goldenRejects: {
    'a lead with no email': 'Marketo finds the person by email (lookupField): a lead without one cannot be upserted',
    // Its other 300-character values are truncated to 255 (marketo-client.test.ts); the email is the person's key.
    'non-Latin names and 300-character values': 'its email is 300 characters, over the 255 of Marketo\'s email field: cut, it would file the lead under another person',
  },
  async start() {
    const fake = await FakeMarketo.start();
    const clients: MarketoClient[] = [];
    return {
      async client(o = {}) {
        const s = marketoSettings.parse({ restUrl: fake.url, clientId: fake.clientId, clientSecret: fake.clientSecret });
        const c = new MarketoClient({ ...s, ...common('mkto', 'marketo') }, ctx, { timeoutMs: o.shortTimeout ? SHORT_MS : 30_000 });
        clients.push(c);
        return c;
      },
      inject(f, lead) {
        if (f === 'timeout') fake.failNext(1, { delayMs: HANG_MS });
        else if (f === '5xx') fake.failNext(1, { httpStatus: 502, body: '<html>Bad Gateway</html>' });
        // Marketo answers rate limits with HTTP 200 and error 606, never 429.
        else if (f === '429') fake.failNext(1, { code: '606' });
        else if (f === 'auth') fake.failNext(3, { code: '601' });
        else if (f === 'validation') fake.failNext(1, { code: '609' });
        else fake.rejectEmail(lead.customer.email ?? '', '1003');
      },
      async stored(lead) {
        return lead.customer.email ? fake.leads.filter((l) => String(l.fields.email).toLowerCase() === lead.customer.email!.toLowerCase()).map((l) => l.fields) : [];
      },
      // Like a real instance's describe: every string field holds 255 characters (text areas such as address more).
      limits: Object.fromEntries(STANDARD_LEAD_FIELDS.filter((f) => f !== 'id' && f !== 'address').map((f) => [f, 255])),
      throttleWaitMs: RATE_LIMIT_WAIT_MS,
      reset: () => { fake.clearFaults(); fake.clearSkipRules(); },
      async close() { await Promise.all(clients.map((c) => c.close?.())); await fake.stop(); },
    };
  },
};

const SF_KEY = 'contract-sf-key';
const SF_SECRET = 'contract-sf-secret';
const salesforceApi: ContractHarness = {
  type: 'salesforce', name: 'salesforce api (externalIdField)',
  async start() {
    const fake = await FakeSalesforce.start({ clientId: SF_KEY, clientSecret: SF_SECRET, externalIdFields: { LeadRelay_Id__c: { unique: true } } });
    const route = 'upsert-lead' as const;
    return {
      async client(o = {}) {
        const s = salesforceSettings.parse({ mode: 'api', loginUrl: fake.url, clientId: SF_KEY, clientSecret: SF_SECRET, externalIdField: 'LeadRelay_Id__c' });
        return new SalesforceRestClient({ ...s, ...common('sf', 'salesforce') }, ctx, { timeoutMs: o.shortTimeout ? SHORT_MS : 30_000 });
      },
      inject(f) {
        if (f === 'timeout') fake.inject({ route, action: 'hang' });
        else if (f === '5xx') fake.inject({ route, answer: REST_ERRORS.UNKNOWN_EXCEPTION });
        // Salesforce's REST API answers its limits with 403 REQUEST_LIMIT_EXCEEDED and no Retry-After.
        else if (f === '429') fake.inject({ route, answer: REST_ERRORS.REQUEST_LIMIT_EXCEEDED });
        else if (f === 'auth') fake.inject({ route, answer: REST_ERRORS.INVALID_SESSION_ID, times: 2 });
        else if (f === 'validation') fake.inject({ route, answer: { status: 400, body: [{ message: 'Unexpected character while parsing the JSON body', errorCode: 'JSON_PARSER_ERROR' }] } });
        else fake.inject({ route, answer: REST_ERRORS.FIELD_CUSTOM_VALIDATION_EXCEPTION });
      },
      async stored(lead) {
        return fake.leads.filter((l) => l.record.LeadRelay_Id__c === lead.id).map((l) => l.record);
      },
      limits: { ...SALESFORCE_LEAD_LENGTHS, LeadRelay_Id__c: 80 },
      throttleWaitMs: API_LIMIT_WAIT_MS,
      reset: () => fake.clearFaults(),
      async close() { await fake.close(); },
    };
  },
};

const OID = '00D5g000004abcd';
const salesforceWebToLead: ContractHarness = {
  type: 'salesforce', name: 'salesforce web-to-lead',
  exempt: {
    validation: 'Web-to-Lead answers 200 whatever it does with the form: a refused lead is never signalled',
    'record-reject': 'Web-to-Lead answers 200 whatever it does with the form: a refused lead is never signalled',
    auth: 'Web-to-Lead takes no credentials (the oid is checked by config and check)',
    idempotent: 'Web-to-Lead has no key to upsert on: a repeated post is a second Lead (use mode: api with externalIdField)',
  },
  async start() {
    const fake = await FakeSalesforce.start({ orgId: OID });
    const clients: SalesforceWebToLeadClient[] = [];
    return {
      async client(o = {}) {
        const s = salesforceSettings.parse({ mode: 'web-to-lead', oid: OID, url: fake.webToLeadUrl, dailyLimit: 100_000 });
        const c = new SalesforceWebToLeadClient({ ...s, ...common('w2l', 'salesforce') }, ctx, { timeoutMs: o.shortTimeout ? SHORT_MS : 30_000 });
        clients.push(c);
        return c;
      },
      inject(f) {
        const route = 'web-to-lead' as const;
        if (f === 'timeout') fake.inject({ route, action: 'hang' });
        else if (f === '5xx') fake.inject({ route, answer: { status: 503, text: '<html>Service Unavailable</html>' } });
        else if (f === '429') fake.inject({ route, answer: { status: 429, text: 'Too Many Requests', headers: { 'Retry-After': '7' } } });
      },
      async stored(lead) {
        // An email over the 80 of Lead.Email is left out (cut, it would be another address), so such a lead has none.
        const email = lead.customer.email !== undefined && lead.customer.email.length <= 80 ? lead.customer.email : undefined;
        const last = lead.customer.lastName ? truncate(lead.customer.lastName, 80) : '[not provided]';
        return fake.webToLead.filter((l) => l.outcome === 'created' && l.fields.email === email && l.fields.last_name === last).map((l) => l.fields);
      },
      limits: WEB_TO_LEAD_LENGTHS,
      reset: () => fake.clearFaults(),
      async close() { await Promise.all(clients.map((c) => c.close())); await fake.close(); },
    };
  },
};

/**
 * Every destination type's harness. A new type registers here (one harness per mode) and gets the whole
 * contract suite; the suite fails for a type in `destinationTypes` with no harness.
 */
export const contractHarnesses: ContractHarness[] = [https, azureTable, dynamics, marketo, salesforceApi, salesforceWebToLead];
