import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace, type Span } from '@opentelemetry/api';
import { TraceAttributes as A, tracingEnabled } from '@leadrelay/observability';
import type { DeliveryJobData } from '@leadrelay/queue';

/** What one attempt came to, filled in by the worker as it decides: the span's outcome attributes. */
export interface AttemptNote {
  /** `delivered`, `retried`, `dead`, `throttled`, `paused`, `released`, `held`, `already-delivered`. */
  outcome?: string;
  /** The destination's HTTP status, when it answered one. */
  status?: number;
  /** LeadRelay's (or the destination's) error code: never the message, which may quote the lead. */
  code?: string;
}

/** Outcomes that mean the lead did not get through this time. */
const FAILED = new Set(['retried', 'dead', 'paused']);

/**
 * One CLIENT span per delivery attempt, `deliver <destination>`, a child of the intake request that queued the job
 * (its `traceparent`): every attempt of a lead, retries included, is in the request's trace. The attempt runs with
 * the span active, so an HTTP destination sends its `traceparent`. While tracing is off the attempt runs as it is.
 */
export class AttemptTracer {
  private readonly tracer = trace.getTracer('@leadrelay/delivery');

  constructor(private readonly destination: { id: string; type: string }) {}

  run<T>(data: DeliveryJobData, attempt: number, fn: (note: AttemptNote) => Promise<T>): Promise<T> {
    const note: AttemptNote = {};
    if (!tracingEnabled()) return fn(note);
    const parent = data.traceparent
      ? propagation.extract(ROOT_CONTEXT, { traceparent: data.traceparent, ...(data.tracestate ? { tracestate: data.tracestate } : {}) })
      : ROOT_CONTEXT;
    const span = this.tracer.startSpan(`deliver ${this.destination.id}`, {
      kind: SpanKind.CLIENT,
      attributes: { [A.destinationId]: this.destination.id, [A.destinationType]: this.destination.type, [A.attempt]: attempt, [A.leadId]: data.lead.id },
    }, parent);
    return context.with(trace.setSpan(parent, span), () => fn(note)).then(
      (value) => { finish(span, note, 'delivered'); return value; },
      (error: unknown) => { finish(span, note, 'retried'); throw error; },
    );
  }
}

function finish(span: Span, note: AttemptNote, otherwise: string): void {
  const outcome = note.outcome ?? otherwise;
  span.setAttribute(A.outcome, outcome);
  if (note.status !== undefined) span.setAttribute(A.httpStatus, note.status);
  if (note.code) span.setAttribute(A.errorCode, note.code);
  if (FAILED.has(outcome)) span.setStatus({ code: SpanStatusCode.ERROR, ...(note.code ? { message: note.code } : {}) });
  span.end();
}
