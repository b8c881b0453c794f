import { Hono } from 'hono';
import { notFoundRoute, onError } from '../lib/http/errors.js';
import { HttpMetrics } from '../lib/http/metrics.js';
import { accessLog, tagSpan, withOwnRequestId, withTracing, type AuthedEnv } from '../lib/http/middleware.js';
import type { GatewayDeps } from './deps.js';
import { invokeRoutes } from './routes/invoke.js';

export type { GatewayDeps } from './deps.js';

/**
 * The gateway: the one way in to every agent (invoke/v1). The hot path reads which
 * deployment serves an agent from a cache the store invalidates, then calls the runtime;
 * it never calls Temporal.
 */
export function createGatewayApp(deps: GatewayDeps) {
  const metrics = deps.metrics ?? new HttpMetrics('gateway');
  return new Hono<AuthedEnv>()
    .use('*', withTracing('webhost-gateway'))
    .use('*', metrics.middleware())
    .use('*', withOwnRequestId())
    .use('*', tagSpan())
    .use('*', accessLog(deps.log))
    .onError(onError(deps.log))
    .notFound(notFoundRoute)
    .get('/healthz', (c) => c.json({ ok: true }))
    .get('/metrics', () => metrics.handler())
    .route('/v1/agents', invokeRoutes(deps));
}

export type GatewayApp = ReturnType<typeof createGatewayApp>;
