import { createApiApp } from '../../api/app.js';
import { createGatewayApp } from '../../gateway/app.js';

export type Service = 'api' | 'gateway';

export interface Route {
  service: Service;
  method: string;
  /** Hono's pattern, e.g. `/v1/agents/:agentId/secrets/:name`. */
  path: string;
  /** The path's parameters, in order (`agentId`, `name`). */
  params: string[];
}

/**
 * Every route the api and the gateway serve, read from the apps themselves (Hono's
 * `app.routes`), so a route added to either is in the security suites without anyone listing
 * it. Middleware (`ALL …/*`) is left out; a pattern registered several times (validators
 * before the handler) counts once. The apps are only built, never served: routes are
 * registered whatever the dependencies, so none are needed.
 */
export function appRoutes(): Route[] {
  const apps: [Service, { routes: { method: string; path: string }[] }][] = [
    ['api', createApiApp({} as never)],
    ['gateway', createGatewayApp({} as never)],
  ];
  const seen = new Set<string>();
  const routes: Route[] = [];
  for (const [service, app] of apps) {
    for (const { method, path } of app.routes) {
      if (method === 'ALL' && path.endsWith('*')) continue;
      const key = `${service} ${method} ${path}`;
      if (seen.has(key)) continue;
      seen.add(key);
      routes.push({ service, method, path, params: [...path.matchAll(/:(\w+)/g)].map((m) => m[1]!) });
    }
  }
  return routes;
}

export const routeName = (r: Pick<Route, 'service' | 'method' | 'path'>) => `${r.service} ${r.method} ${r.path}`;

/**
 * Routes open without a user's credentials, each for a reason; everything else must refuse a
 * caller without a valid user token (or API key, at the gateway). Keep this list short and
 * say why each is here: a route missing from it is tested as a user route.
 */
export const PUBLIC_ROUTES: Record<string, string> = {
  // liveness for orchestrators; answers `{ ok: true }` and nothing else
  'api GET /healthz': 'liveness probe',
  'gateway GET /healthz': 'liveness probe',
  // Prometheus scrape; counts by route pattern and status, no ids (lib/http/metrics.ts)
  'api GET /metrics': 'Prometheus scrape',
  'gateway GET /metrics': 'Prometheus scrape',
  // the dashboard's sign-in in local mode only: anyone who reaches the api may be anyone there
  'api POST /auth/local-token': 'local-mode sign-in (refused with Clerk)',
  // Temporal's remote codec protocol for Temporal UI and the CLI: open in local auth (where
  // anyone may sign in as anyone), the operator token otherwise; a secret's value stays redacted
  'api POST /codec/decode': 'codec server (open in local auth only; a secret stays [redacted])',
  'api POST /codec/encode': 'codec server (open in local auth only)',
  // authenticated by Lemon Squeezy's X-Signature over the raw body: tested with bad signatures
  'api POST /webhooks/lemonsqueezy': 'signed by Lemon Squeezy (X-Signature)',
  // authenticated by the shim's per-deployment HMAC: tested with bad signatures
  'api POST /v1/telemetry': 'signed by the shim (x-webhost-signature)',
};

/** Routes only the operator token opens (`npm run admin`): a user's token, anyone's, is refused with 401. */
export const OPERATOR_ROUTES = (r: Route) => r.service === 'api' && r.path.startsWith('/admin/');
