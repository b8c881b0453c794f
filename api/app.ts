import { Hono } from 'hono';
import { API_MAX_BODY_BYTES } from '../lib/contracts/index.js';
import { errorResponse, notFoundRoute, onError } from '../lib/http/errors.js';
import { HttpMetrics } from '../lib/http/metrics.js';
import {
  accessLog,
  limitBody,
  requireUser,
  tagSpan,
  withRequestId,
  withTracing,
  type AuthedEnv,
} from '../lib/http/middleware.js';
import type { ApiDeps } from './deps.js';
import { adminRoutes } from './routes/admin.js';
import { accountRoutes } from './routes/account.js';
import { agentRoutes } from './routes/agents.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { billingRoutes, lemonSqueezyWebhookRoutes } from './routes/billing.js';
import { codecRoutes } from './routes/codec.js';
import { deploymentRoutes } from './routes/deployments.js';
import { eventRoutes } from './routes/events.js';
import { logRoutes } from './routes/logs.js';
import { localAuthRoutes } from './routes/local-auth.js';
import { rollbackRoutes } from './routes/rollback.js';
import { secretRoutes } from './routes/secrets.js';
import { telemetryRoutes } from './routes/telemetry.js';
import { usageRoutes } from './routes/usage.js';
import { webhookRoutes } from './routes/webhooks.js';

/**
 * The REST api: it records intent and starts workflows; it never does their work inline.
 * Two kinds of caller, two mounts:
 *  - routes a signature authenticates (`/webhooks/*` from the billing provider, `/v1/telemetry`
 *    from the agents' shim) are mounted first, outside the user-auth middleware;
 *  - `/admin/*` needs the operator token (`npm run admin`), never a user token;
 *  - `/codec/decode` is Temporal UI's and the CLI's codec server: open in local auth, else the operator token;
 *  - `/auth/local-token` signs a local token, only when auth is local (no Clerk);
 *  - everything else under `/v1` needs a user token.
 */
export function createApiApp(deps: ApiDeps) {
  const user = new Hono<AuthedEnv>()
    .use(
      '*',
      requireUser(deps.authenticate, (userId) => deps.store.ensureUser(userId, new Date(), deps.defaultTier ?? 'pro')),
    )
    .route('/agents', agentRoutes(deps))
    .route('/', accountRoutes(deps))
    .route('/', deploymentRoutes(deps))
    .route('/', rollbackRoutes(deps))
    .route('/', secretRoutes(deps))
    .route('/', usageRoutes(deps))
    .route('/', logRoutes(deps, deps.logTail))
    .route('/api-keys', apiKeyRoutes(deps))
    .route('/billing', billingRoutes(deps))
    .route('/webhooks', webhookRoutes(deps))
    .route('/events', eventRoutes(deps));

  const metrics = deps.metrics ?? new HttpMetrics('api');
  return (
    new Hono<AuthedEnv>()
      .use('*', withTracing('webhost-api'))
      .use('*', metrics.middleware())
      .use('*', withRequestId())
      .use('*', tagSpan())
      .use('*', accessLog(deps.log))
      // Refused from the Content-Length header, or counted as a chunked body streams in: an
      // oversized body is never read whole.
      .use(
        '*',
        limitBody(API_MAX_BODY_BYTES, (c) =>
          errorResponse(c, 'payload_too_large', `request bodies are limited to ${API_MAX_BODY_BYTES} bytes`),
        ),
      )
      .onError(onError(deps.log))
      .notFound(notFoundRoute)
      .get('/healthz', (c) => c.json({ ok: true }))
      .get('/metrics', () => metrics.handler())
      .route('/', signedRoutes(deps))
      .route('/admin', adminRoutes(deps))
      // Temporal UI's and the CLI's codec server (README, Runbook)
      .route('/codec', codecRoutes(deps.codecServer))
      // the dashboard's sign-in without Clerk; refuses every call unless auth is local
      .route('/auth', localAuthRoutes(deps))
      .route('/v1', user)
  );
}

/**
 * Routes whose callers prove themselves with a signature, not a user token: billing webhooks
 * (`POST /webhooks/<provider>`) and agent telemetry (`POST /v1/telemetry`) are mounted here.
 */
function signedRoutes(deps: ApiDeps) {
  return new Hono<AuthedEnv>()
    .route('/webhooks', lemonSqueezyWebhookRoutes(deps))
    .route('/v1/telemetry', telemetryRoutes(deps));
}

export type ApiApp = ReturnType<typeof createApiApp>;
