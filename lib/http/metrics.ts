import type { MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import { routePath } from 'hono/route';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ErrorCode } from '../contracts/index.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** The error code an answer carried (lib/http/errors.ts), for the metrics. */
    errorCode: ErrorCode;
  }
}

/**
 * Prometheus metrics of one HTTP service (the api, the gateway), in a registry of its own so
 * both can live in one process and each answers its own `/metrics`. Labels are the route
 * pattern (`/v1/agents/:agentId/invoke`), never a concrete path or an id, so no tenant's ids
 * reach them and their number stays bounded.
 */
export class HttpMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly duration: Histogram<'method' | 'route'>;
  private readonly errors: Counter<'code'>;

  constructor(readonly service: 'api' | 'gateway') {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry, prefix: 'webhost_' });
    this.requests = new Counter({
      name: 'webhost_http_requests_total',
      help: 'Requests answered, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'webhost_http_request_duration_seconds',
      help: 'Time to the answer (for a stream, to its headers), by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.errors = new Counter({
      name: 'webhost_http_errors_total',
      help: "Error answers by the error envelope's code; limit_exceeded counts the request-limit rejections.",
      labelNames: ['code'],
      registers: [this.registry],
    });
  }

  /** Counts and times every request; mount it first. */
  middleware(): MiddlewareHandler {
    return createMiddleware(async (c, next) => {
      const started = performance.now();
      await next();
      // the route the request matched last: its handler's pattern, or only a catch-all
      const last = routePath(c, -1);
      const route = last.endsWith('*') ? 'unmatched' : last;
      const labels = { method: c.req.method, route };
      this.duration.observe(labels, (performance.now() - started) / 1000);
      this.requests.inc({ ...labels, status: String(c.res.status) });
      const code = c.get('errorCode');
      if (code) this.errors.inc({ code });
    });
  }

  /** A figure read when scraped (e.g. the usage meter's backlog). */
  gauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** `GET /metrics`, in the Prometheus text format. */
  async handler(): Promise<Response> {
    return new Response(await this.registry.metrics(), { headers: { 'content-type': this.registry.contentType } });
  }
}
