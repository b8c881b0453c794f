import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, NoopSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/**
 * OpenTelemetry tracing for one process (README, "Traces"). Spans are exported over OTLP/HTTP
 * when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set — the
 * exporter reads those and `OTEL_EXPORTER_OTLP_HEADERS` itself; `OTEL_SERVICE_NAME` overrides
 * the process's name. Otherwise nothing is recorded and every span below is a no-op.
 *
 * Tracing is a 1.x SDK because `@temporalio/interceptors-opentelemetry` is built on it: the
 * workflow spans it makes inside the sandbox are handed to `spanProcessor` through a sink.
 */
export interface Tracing {
  readonly enabled: boolean;
  readonly resource: Resource;
  /** Where spans go: OTLP when enabled; nowhere otherwise (the worker's workflow sink still needs one). */
  readonly spanProcessor: SpanProcessor;
  /** Exports what is buffered, then stops. */
  shutdown(): Promise<void>;
}

export const TRACER_NAME = 'webhost';

export function startTracing(service: string, env: NodeJS.ProcessEnv = process.env): Tracing {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint || env.OTEL_SDK_DISABLED === 'true') return noTracing(service);
  const resource = new Resource({ [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME || service });
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // the global provider, W3C trace context and baggage propagation, AsyncLocalStorage context
  provider.register();
  return { enabled: true, resource, spanProcessor, shutdown: () => provider.shutdown() };
}

/** Tracing off: spans are no-ops and go nowhere. */
export function noTracing(service: string): Tracing {
  const resource = new Resource({ [ATTR_SERVICE_NAME]: service });
  return { enabled: false, resource, spanProcessor: new NoopSpanProcessor(), shutdown: async () => {} };
}

/**
 * Runs `fn` in a span named `name`, a child of the active one; an error ends it with the
 * error's status and is rethrown. A no-op span when tracing is off.
 */
export async function inSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The active trace context as W3C headers (`traceparent`, `tracestate`), for a call to another service. */
export function traceHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  propagation.inject(context.active(), headers);
  return headers;
}
