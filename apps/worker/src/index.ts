import { Alerts, QueueWaitMonitor } from '@leadrelay/alerts';
import type { LeadRelayConfig } from '@leadrelay/config';
import { DeliveryService } from '@leadrelay/delivery';
import { SourceService, createPullSource } from '@leadrelay/sources';
import { createRuntime, logStarted, startProbeServer, startTracing, type ProbeServer, type RunningService, type Runtime } from '@leadrelay/observability';

export interface WorkerOptions {
  config: LeadRelayConfig;
  /** Only these destinations (`worker --only a,b`). */
  only?: string[];
  runtime?: Runtime;
  /** Serve /healthz, /readyz, /metrics on worker.metricsPort (default true). */
  serveMetrics?: boolean;
}

export interface RunningWorker extends RunningService {
  readonly name: 'worker';
  service: DeliveryService;
  /** Polls of the configured pull sources (a table, the Referrals API), when any is enabled. */
  sources?: SourceService;
  /** Alerts for pauses, resumes, failing destinations and sources, dead letters (grouped) and leads waiting too long (log events, and the alert targets when configured). */
  alerts: Alerts;
  /** The /healthz, /readyz, /metrics server, unless serveMetrics is false. */
  server?: ProbeServer;
}

/** Starts delivery for the configured destinations, and the worker's probe/metrics server. */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const { config } = options;
  const runtime = options.runtime ?? createRuntime({ name: 'worker', secretsFrom: config });
  // A span per delivery attempt while OTEL_EXPORTER_OTLP_ENDPOINT is set (README: Operations → Traces); flushed on stop.
  const tracing = await startTracing({ app: runtime.name ?? 'worker' });
  const service = new DeliveryService({ config, logger: runtime.logger, metrics: runtime.metrics, redactor: runtime.redactor, ...(options.only ? { only: options.only } : {}) });
  // Alerts listen before the workers start, so no pause or dead letter goes unreported.
  const alerts = new Alerts({ config, logger: runtime.logger, relay: service.relay, redactor: runtime.redactor });
  alerts.attach(service);
  const waitMonitor = new QueueWaitMonitor({ relay: service.relay, alerts, logger: runtime.logger });
  await service.start();
  // Polls are shared by every worker process through one job scheduler per source.
  const sources = config.sources.some((s) => s.enabled)
    ? new SourceService({ config, relay: service.relay, logger: runtime.logger, registry: runtime.metrics.registry, createSource: createPullSource, lockMs: config.worker.lockDuration })
    : undefined;
  const sourceType = (id: string) => config.sources.find((s) => s.id === id)?.type ?? 'unknown';
  sources?.on('source-paused', (e) => { void alerts.sourcePaused({ ...e, sourceType: sourceType(e.source) }); });
  sources?.on('source-failing', (e) => alerts.sourceFailing({ ...e, sourceType: sourceType(e.source) }));
  sources?.on('source-recovered', (e) => alerts.sourceRecovered({ ...e, sourceType: sourceType(e.source) }));
  sources?.on('reconciliation-gap', (r) => alerts.reconciliationGap({
    since: r.since, missing: r.missing.length,
    examples: r.missing.map((m) => ({ source: m.source, key: m.key, ...(m.leadId ? { leadId: m.leadId } : {}), ...(m.destination ? { destination: m.destination } : {}), reason: m.reason })),
  }));
  await sources?.start();
  waitMonitor.start();
  const server = (options.serveMetrics ?? true)
    ? await startProbeServer({ host: config.worker.host, port: config.worker.metricsPort, ready: () => service.relay.ping(), metrics: runtime.metrics })
    : undefined;
  let stopping: Promise<void> | undefined;
  const stop = async (signalledAt = Date.now()) => {
    await waitMonitor.stop();
    await sources?.close();
    // While Redis is still open: this worker's dead-letter counts go out now rather than with another worker's check.
    await alerts.flushPending().catch(() => undefined);
    // Active deliveries get what is left of worker.shutdownTimeout since the signal.
    await service.stop(Math.max(0, config.worker.shutdownTimeout - (Date.now() - signalledAt)));
    await alerts.close();
    await server?.close();
    await tracing.stop();
  };
  const running: RunningWorker = {
    name: 'worker',
    ...(server ? { address: `http://${config.worker.host}:${server.port}` } : {}),
    service,
    ...(sources ? { sources } : {}),
    alerts,
    server,
    stop: (signalledAt?: number) => (stopping ??= stop(signalledAt)),
  };
  logStarted(runtime.logger, running, { destinations: service.workers.map((w) => w.destinationId), sources: config.sources.filter((s) => s.enabled).map((s) => s.id) });
  return running;
}
