import { trace } from '@opentelemetry/api';
import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs on stdout. Secret values are never passed to a logger; these paths are redacted besides. */
export function createLogger(name: string): Logger {
  return pino({
    name,
    level: process.env.LOG_LEVEL ?? 'info',
    // the active span's trace and span ids, so a line can be found from its trace and back
    mixin: traceIds,
    redact: {
      paths: ['*.authorization', '*.headers.authorization', '*.value', '*.secret', '*.token'],
      censor: '[redacted]',
    },
  });
}

/** The active span's ids, for log lines (none outside a sampled span, or when tracing is off). */
export function traceIds(): { traceId?: string; spanId?: string } {
  const context = trace.getActiveSpan()?.spanContext();
  return context && context.traceFlags & 1 ? { traceId: context.traceId, spanId: context.spanId } : {};
}
