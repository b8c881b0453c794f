import { Hono } from 'hono';
import { onError, notFoundRoute } from '../lib/http/errors.js';
import { requireUser, withRequestId, type AuthedEnv } from '../lib/http/middleware.js';
import type { ApiDeps } from './deps.js';
import { agentRoutes } from './routes/agents.js';
import { deploymentRoutes } from './routes/deployments.js';
import { eventRoutes } from './routes/events.js';

/** The REST api: it records intent and starts workflows; it never does their work inline. */
export function createApiApp(deps: ApiDeps) {
  const v1 = new Hono<AuthedEnv>()
    .use('*', requireUser(deps.authenticate, (userId) => deps.store.ensureUser(userId, new Date())))
    .route('/agents', agentRoutes(deps))
    .route('/deployments', deploymentRoutes(deps))
    .route('/events', eventRoutes(deps));

  return new Hono<AuthedEnv>()
    .use('*', withRequestId())
    .onError(onError(deps.log))
    .notFound(notFoundRoute)
    .get('/healthz', (c) => c.json({ ok: true }))
    .route('/v1', v1);
}

export type ApiApp = ReturnType<typeof createApiApp>;
