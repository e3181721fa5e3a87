import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/**
 * The OpenTelemetry SDK part of startTracing, in its own module so that it is loaded only when tracing is on:
 * a NodeTracerProvider sending to an OTLP/HTTP URL (batched) or to the given span processors, with the W3C
 * trace-context propagator, registered process-wide.
 */
export function registerTracerProvider(serviceName: string, to: string | SpanProcessor[]): NodeTracerProvider {
  const provider = new NodeTracerProvider({
    // OTEL_RESOURCE_ATTRIBUTES adds to the resource; the service name is ours (or OTEL_SERVICE_NAME).
    resource: defaultResource().merge(detectResources({ detectors: [envDetector] })).merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName })),
    spanProcessors: typeof to === 'string' ? [new BatchSpanProcessor(new OTLPTraceExporter({ url: to }))] : to,
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  return provider;
}
