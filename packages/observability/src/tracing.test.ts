import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { otlpTracesUrl, startTracing, tracingEnabled, type Tracing } from './tracing.js';

interface Received { method: string; url: string; headers: IncomingHttpHeaders; body: string }

/** A tiny OTLP/HTTP collector on a free loopback port: records every request. */
async function collector(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString('utf8'); });
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received, close: () => new Promise((r) => server.close(() => r())) };
}

/** service.name and span names of an OTLP/JSON export body. */
function exported(body: string): { services: string[]; spans: string[] } {
  const json = JSON.parse(body) as { resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: { name: string }[] }[] }[] };
  return {
    services: json.resourceSpans.map((r) => r.resource.attributes.find((a) => a.key === 'service.name')!.value.stringValue!),
    spans: json.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((x) => x.name))),
  };
}

describe('startTracing', () => {
  const holds: Tracing[] = [];
  afterEach(async () => {
    for (const h of holds.splice(0)) await h.stop();
    expect(tracingEnabled()).toBe(false);
  });

  it('with no endpoint set: no provider, no propagator, spans are the API no-op', async () => {
    const t = await startTracing({ app: 'intake', env: { OTEL_SERVICE_NAME: 'ignored' } });
    holds.push(t);
    expect(t.enabled).toBe(false);
    expect(tracingEnabled()).toBe(false);
    const span = trace.getTracer('x').startSpan('y');
    expect(span.isRecording()).toBe(false);
    expect(span.spanContext().traceId).toBe('0'.repeat(32));
    expect(propagation.fields()).toEqual([]);
    const carrier: Record<string, string> = {};
    propagation.inject(ROOT_CONTEXT, carrier);
    expect(carrier).toEqual({});
  });

  it('OTEL_SDK_DISABLED=true turns it off even with an endpoint', async () => {
    const t = await startTracing({ app: 'intake', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_SDK_DISABLED: 'true' } });
    holds.push(t);
    expect(t.enabled).toBe(false);
  });

  it('with OTEL_EXPORTER_OTLP_ENDPOINT set, spans arrive as OTLP/HTTP at <endpoint>/v1/traces, flushed on stop, as leadrelay-<app>', async () => {
    const c = await collector();
    try {
      const t = await startTracing({ app: 'worker', env: { OTEL_EXPORTER_OTLP_ENDPOINT: `${c.url}/` } });
      expect(t.enabled).toBe(true);
      expect(propagation.fields()).toEqual(['traceparent', 'tracestate']);
      trace.getTracer('test').startSpan('deliver hook').end();
      // Batched: nothing is sent until the batch is due or the app stops.
      await t.stop();
      expect(tracingEnabled()).toBe(false);
      expect(c.received).toHaveLength(1);
      const [req] = c.received;
      expect(req).toMatchObject({ method: 'POST', url: '/v1/traces' });
      expect(req!.headers['content-type']).toMatch(/^application\/json/);
      expect(exported(req!.body)).toEqual({ services: ['leadrelay-worker'], spans: ['deliver hook'] });
    } finally {
      await c.close();
    }
  });

  it('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as given and OTEL_SERVICE_NAME wins', async () => {
    const c = await collector();
    try {
      const t = await startTracing({ app: 'intake', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${c.url}/collect`, OTEL_SERVICE_NAME: 'relay-eu' } });
      trace.getTracer('test').startSpan('POST /v1/leads').end();
      await t.stop();
      expect(c.received.map((r) => r.url)).toEqual(['/collect']);
      expect(exported(c.received[0]!.body).services).toEqual(['relay-eu']);
    } finally {
      await c.close();
    }
  });

  it('apps of one process share the provider; the last to stop flushes and unregisters it', async () => {
    const memory = new InMemorySpanExporter();
    const first = await startTracing({ app: 'start', spanProcessors: [new SimpleSpanProcessor(memory)] });
    const second = await startTracing({ app: 'worker', env: {} });
    holds.push(first, second);
    expect(second.enabled).toBe(true);
    await second.stop();
    await second.stop();
    expect(tracingEnabled()).toBe(true);
    trace.getTracer('test').startSpan('still traced').end();
    expect(memory.getFinishedSpans().map((s) => [s.name, s.resource.attributes['service.name']])).toEqual([['still traced', 'leadrelay-start']]);
    await first.stop();
    expect(tracingEnabled()).toBe(false);
    expect(trace.getTracer('test').startSpan('after').isRecording()).toBe(false);
  });

  it('otlpTracesUrl', () => {
    expect(otlpTracesUrl({})).toBeUndefined();
    expect(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe('http://collector:4318/v1/traces');
    expect(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://other/x' })).toBe('http://other/x');
  });
});
