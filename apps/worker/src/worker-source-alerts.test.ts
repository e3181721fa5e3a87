import { TableClient } from '@azure/data-tables';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createRuntime } from '@leadrelay/observability';
import { readSourceHealth } from '@leadrelay/sources';
import type { AlertPayload } from '@leadrelay/alerts';
import { startWorker, type RunningWorker } from './index.js';
import { WebhookReceiver } from '../../../test/fakes/webhook-receiver/index.js';
import { Pipeline, pipelineConfig } from '../../../test/pipeline/pipeline-harness.js';
import { uniquePrefix } from '../../../test/helpers/unique.js';

const ALERT_SECRET = 'whsec_c291cmNlLWFsZXJ0cy13aXJpbmctdGVzdC1zZWNyZXQ=';

/** `leadrelay worker` polls the pull sources and raises their alerts: a source whose credentials are refused pauses and says so. */
describe('worker source alerts', () => {
  let hook: WebhookReceiver | undefined;
  let alertsReceiver: WebhookReceiver | undefined;
  let worker: RunningWorker | undefined;
  let p: Pipeline | undefined;

  afterEach(async () => {
    await worker?.stop();
    await p?.close();
    await hook?.stop();
    await alertsReceiver?.stop();
  });

  it('a table source whose account key is refused pauses and raises a signed source-paused alert with the remediation, once', async () => {
    const azurite = inject('azuriteConnectionString');
    const wrongKey = Buffer.alloc(64, 4).toString('base64');
    const table = `T${uniquePrefix('wsa').replace(/[^A-Za-z0-9]/g, '')}`;
    await TableClient.fromConnectionString(azurite, table, { allowInsecureConnection: true }).createTable();
    hook = await WebhookReceiver.start();
    alertsReceiver = await WebhookReceiver.start({ signingSecret: ALERT_SECRET });
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "${hook.url('/hook')}" }`, `
alerts: { webhookUrl: "${alertsReceiver.url('/alerts')}", signingSecret: "${ALERT_SECRET}" }
sources:
  - id: old-table
    type: azure-table
    connectionString: "${azurite.replace(/AccountKey=[^;]+/, `AccountKey=${wrongKey}`)}"
    table: ${table}
    start: all
    pollEvery: 1s`));
    worker = await startWorker({ config: p.config, serveMetrics: false, runtime: createRuntime({ name: 'worker', secretsFrom: p.config, level: 'silent' }) });
    expect(worker.sources).toBeDefined();
    const paused = () => alertsReceiver!.requests.filter((r) => (r.json as AlertPayload).type === 'source-paused');
    await alertsReceiver.waitFor(() => paused().length > 0);

    const alert = paused()[0]!;
    expect(alert.signatureValid).toBe(true);
    expect((alert.json as AlertPayload<'source-paused'>).data).toEqual({
      source: 'old-table', sourceType: 'azure-table',
      reason: expect.stringMatching(/the storage account refused our credentials/),
      remediation: expect.stringMatching(/connectionString.*leadrelay resume <source-id>/s),
    });
    expect(alert.rawBody).not.toContain(wrongKey);
    const [health] = await readSourceHealth(p.relay);
    expect(health).toMatchObject({ source: 'old-table', state: 'paused', pause: { reason: expect.stringMatching(/refused our credentials/) } });
    // Paused, the source is not polled again (polls every 1 s are skipped), so nothing more is raised.
    await new Promise((r) => setTimeout(r, 2500));
    expect(paused()).toHaveLength(1);
  }, 60_000);
});
