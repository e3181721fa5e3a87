import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { startIntake, type RunningIntake } from '@leadrelay/intake';
import { TraceAttributes, startTracing, tracingEnabled, type Tracing } from '@leadrelay/observability';
import { startWorker, type RunningWorker } from '@leadrelay/worker';
import { WebhookReceiver } from '../fakes/webhook-receiver/index.js';
import { silentRuntime } from '../helpers/index.js';
import { API_KEY, Pipeline, pipelineConfig } from './pipeline-harness.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const CALLER = `00-${TRACE_ID}-${CALLER_SPAN}-01`;

let seq = 0;
/** A Microsoft HTTPS-endpoint lead whose customer values are easy to look for in spans. */
function customer() {
  const n = `${Date.now()}${++seq}`;
  return { FirstName: `Grace${n}`, LastName: `Hopper${n}`, Email: `grace${n}@contoso.com`, Company: `Contoso${n}`, Country: 'US', Phone: `+1555${n.slice(-7)}` };
}

function post(intake: RunningIntake, body: object, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${intake.address}/v1/leads`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, ...headers },
    body: JSON.stringify(body),
  });
}

function leadBody(details: ReturnType<typeof customer>): object {
  return { UserDetails: details, LeadSource: 'AzureMarketplace-INS|contoso.widget', ActionCode: 'INS', OfferTitle: 'Widget' };
}

/** No attribute of any span holds a customer value, and every attribute is one LeadRelay documents. */
function expectNoCustomerData(spans: ReadableSpan[], details: ReturnType<typeof customer>): void {
  const allowed = new Set<string>(Object.values(TraceAttributes));
  const values = Object.values(details).filter((v) => v !== 'US');
  for (const span of spans) {
    for (const [key, value] of Object.entries(span.attributes)) {
      expect(allowed, `${span.name}: ${key}`).toContain(key);
      for (const v of values) expect(String(value), `${span.name}: ${key}`).not.toContain(v);
    }
    expect(span.name).not.toMatch(/@|grace|hopper|contoso/i);
    expect(span.status.message ?? '').not.toMatch(/@|grace|hopper|contoso/i);
    expect(span.events).toEqual([]);
  }
}

describe('traces (README: Operations → Traces)', () => {
  let hook: WebhookReceiver;
  let p: Pipeline;
  let intake: RunningIntake | undefined;
  let worker: RunningWorker | undefined;
  let tracing: Tracing | undefined;
  let memory: InMemorySpanExporter;

  beforeEach(async () => {
    hook = await WebhookReceiver.start();
    p = new Pipeline(pipelineConfig(`
  - { id: hook, type: https, url: "${hook.url('/hook')}" }`));
    memory = new InMemorySpanExporter();
  });

  afterEach(async () => {
    await worker?.stop();
    await intake?.stop();
    await tracing?.stop();
    worker = intake = tracing = undefined;
    await p.close();
    await hook.stop();
    // Every hold released: the process is untraced again.
    expect(tracingEnabled()).toBe(false);
  });

  const start = async () => {
    intake = await startIntake({ config: p.config, runtime: silentRuntime(p.config, 'intake'), host: '127.0.0.1', port: 0 });
  };
  const startWorkers = async () => {
    worker = await startWorker({ config: p.config, serveMetrics: false, runtime: silentRuntime(p.config, 'worker') });
  };

  it('a lead posted with a traceparent: intake span in that trace, the job carries it, each delivery attempt is its child, the webhook gets the attempt\'s traceparent', async () => {
    tracing = await startTracing({ app: 'test', spanProcessors: [new SimpleSpanProcessor(memory)] });
    await start();
    const details = customer();
    const res = await post(intake!, leadBody(details), { traceparent: CALLER, tracestate: 'vendor=abc' });
    expect(res.status).toBe(202);
    const { id } = await res.json() as { id: string };

    const intakeSpan = memory.getFinishedSpans().find((s) => s.name === 'POST /v1/leads')!;
    expect(intakeSpan).toBeDefined();
    expect(intakeSpan.spanContext().traceId).toBe(TRACE_ID);
    expect(intakeSpan.parentSpanContext?.spanId).toBe(CALLER_SPAN);
    expect(intakeSpan.attributes).toMatchObject({
      'http.request.method': 'POST', 'http.route': '/v1/leads', 'http.response.status_code': 202,
      'leadrelay.lead.id': id, 'leadrelay.lead.duplicate': false, 'leadrelay.lead.format': 'marketplace', 'leadrelay.lead.destinations': 1,
    });

    // Queued before any worker runs: the job itself holds the request span's context (the caller's tracestate too).
    const job = await p.relay.queue('hook').getJob(p.relay.keys.jobId('hook', id));
    expect(job!.data.traceparent).toBe(`00-${TRACE_ID}-${intakeSpan.spanContext().spanId}-01`);
    expect(job!.data.tracestate).toBe('vendor=abc');

    // The first attempt fails (503, retried), the second delivers: two attempt spans, both children of the request.
    hook.failNext(1, 503, { body: { error: 'busy' } });
    await startWorkers();
    await p.waitForState(id, 'hook', ['delivered']);
    await hook.waitForAccepted(1);
    await worker!.stop();
    const attempts = memory.getFinishedSpans().filter((s) => s.name === 'deliver hook');
    expect(attempts.map((s) => s.attributes['leadrelay.delivery.outcome'])).toEqual(['retried', 'delivered']);
    for (const [i, span] of attempts.entries()) {
      expect(span.spanContext().traceId).toBe(TRACE_ID);
      expect(span.parentSpanContext?.spanId).toBe(intakeSpan.spanContext().spanId);
      expect(span.attributes).toMatchObject({
        'leadrelay.destination.id': 'hook', 'leadrelay.destination.type': 'https', 'leadrelay.delivery.attempt': i + 1, 'leadrelay.lead.id': id,
      });
    }
    expect(attempts[0]!.attributes).toMatchObject({ 'http.response.status_code': 503, 'leadrelay.delivery.error_code': '503' });
    expect(attempts[0]!.status.code).toBe(2); // SpanStatusCode.ERROR
    expect(attempts[1]!.attributes['http.response.status_code']).toBe(200);

    // Each webhook request carries the traceparent of its own attempt span.
    expect(hook.requests.map((r) => r.headers.traceparent)).toEqual(attempts.map((s) => `00-${TRACE_ID}-${s.spanContext().spanId}-01`));
    expect(hook.requests[1]!.headers.tracestate).toBe('vendor=abc');
    expectNoCustomerData(memory.getFinishedSpans(), details);
  });

  it('without a traceparent a request starts its own trace; duplicates and refusals are spans too', async () => {
    tracing = await startTracing({ app: 'test', spanProcessors: [new SimpleSpanProcessor(memory)] });
    await start();
    const details = customer();
    expect((await post(intake!, leadBody(details))).status).toBe(202);
    expect((await post(intake!, leadBody(details))).status).toBe(200);
    expect((await post(intake!, leadBody(details), { 'x-api-key': 'wrong-key-0123456789abcdef' })).status).toBe(401);
    expect((await fetch(`${intake!.address}/v1/leads/nope`, { headers: { 'x-api-key': API_KEY } })).status).toBe(404);
    const spans = memory.getFinishedSpans();
    const [first, again, refused, status] = spans;
    expect(spans.map((s) => s.name)).toEqual(['POST /v1/leads', 'POST /v1/leads', 'POST /v1/leads', 'GET /v1/leads/:id']);
    expect(first!.parentSpanContext).toBeUndefined();
    expect(again!.spanContext().traceId).not.toBe(first!.spanContext().traceId);
    expect(again!.attributes).toMatchObject({ 'http.response.status_code': 200, 'leadrelay.lead.duplicate': true, 'leadrelay.lead.id': first!.attributes['leadrelay.lead.id'] });
    expect(refused!.attributes).toMatchObject({ 'http.response.status_code': 401, 'leadrelay.intake.reject_reason': 'unauthorized' });
    expect(status!.attributes).toMatchObject({ 'http.route': '/v1/leads/:id', 'http.response.status_code': 404, 'leadrelay.lead.id': 'nope' });
    expectNoCustomerData(spans, details);
  });

  it('with no OTLP endpoint set nothing is registered or exported, the job has no traceparent and the webhook gets none', async () => {
    expect(process.env.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    expect(process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).toBeUndefined();
    await start();
    expect(tracingEnabled()).toBe(false);
    // The global API is the no-op one: a span started anywhere records nothing and has no trace id.
    const probe = trace.getTracer('probe').startSpan('probe');
    expect(probe.isRecording()).toBe(false);
    expect(probe.spanContext().traceId).toBe('0'.repeat(32));
    const res = await post(intake!, leadBody(customer()), { traceparent: CALLER });
    const { id } = await res.json() as { id: string };
    const job = await p.relay.queue('hook').getJob(p.relay.keys.jobId('hook', id));
    expect(Object.keys(job!.data)).toEqual(['lead']);
    await startWorkers();
    await hook.waitForAccepted(1);
    expect(hook.requests[0]!.headers.traceparent).toBeUndefined();
    expect(memory.getFinishedSpans()).toEqual([]);
  });
});
