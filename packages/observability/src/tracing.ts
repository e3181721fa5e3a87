import { context, propagation, trace } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

export interface TracingOptions {
  /** The app (`intake`, `worker`, `start`…): service.name is `leadrelay-<app>`, unless OTEL_SERVICE_NAME is set. */
  app: string;
  /** Where OTEL_* settings are read. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /**
   * Where spans go instead of OTLP (tests: a SimpleSpanProcessor on the SDK's InMemorySpanExporter): tracing
   * then starts whatever the environment says.
   */
  spanProcessors?: SpanProcessor[];
}

/** One app's hold on the process's tracing (README: Operations → Traces). */
export interface Tracing {
  /** Whether spans are recorded (a provider is registered), for this app and every other one in the process. */
  readonly enabled: boolean;
  /** Releases this hold; the last one flushes the spans still buffered and unregisters the provider. Idempotent. */
  stop(): Promise<void>;
}

/** The registered provider and how many apps of this process hold it (`leadrelay start` runs three). */
let active: { provider: NodeTracerProvider; holders: number } | undefined;

const OFF: Tracing = { enabled: false, stop: () => Promise.resolve() };

/**
 * Starts OpenTelemetry tracing when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set
 * (OTLP over HTTP, batched; OTEL_SDK_DISABLED=true turns it off): a NodeTracerProvider with the W3C trace-context
 * propagator, registered process-wide. Otherwise nothing at all is registered and every span call is the API's no-op.
 * Tracing is per process: an app started while another holds it shares that provider (and its service.name).
 */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  if (active) return hold(active);
  const env = options.env ?? process.env;
  const url = otlpTracesUrl(env);
  if (!options.spanProcessors && (!url || env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true')) return OFF;
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || `leadrelay-${options.app}`;
  // The SDK and its exporter (~400 modules, ~13 MiB) are loaded only when tracing is on.
  starting ??= import('./tracing-sdk.js').then(({ registerTracerProvider }) => {
    active ??= { provider: registerTracerProvider(serviceName, options.spanProcessors ?? url!), holders: 0 };
    return active;
  }).finally(() => { starting = undefined; });
  return hold(await starting);
}

/** An SDK being loaded for the first startTracing of this process (another one started meanwhile waits for it). */
let starting: Promise<NonNullable<typeof active>> | undefined;

/** Whether a provider from startTracing is registered: callers skip building spans (and their hooks) when not. */
export function tracingEnabled(): boolean {
  return active !== undefined;
}

function hold(state: NonNullable<typeof active>): Tracing {
  state.holders += 1;
  let stopping: Promise<void> | undefined;
  return {
    enabled: true,
    stop: () => (stopping ??= (async () => {
      state.holders -= 1;
      if (state.holders > 0 || active !== state) return;
      active = undefined;
      // Flushes what the batch processor holds, then the process is as if tracing had never started.
      await state.provider.shutdown().catch(() => undefined);
      trace.disable();
      propagation.disable();
      context.disable();
    })()),
  };
}

/** OTLP/HTTP traces URL: the traces endpoint as given, else `<OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces`; undefined when neither is set. */
export function otlpTracesUrl(env: NodeJS.ProcessEnv): string | undefined {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined;
}
