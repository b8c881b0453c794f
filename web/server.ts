// The dashboard's server (DESIGN.md §9): the built app from dist/web, /config.json, and a proxy
// that puts the api (/v1, /auth) and the gateway (/gateway/v1 → /v1) on the dashboard's own
// origin, so the browser needs no CORS and no token ever goes to a third origin.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono, type Context } from 'hono';
import { proxy } from 'hono/proxy';
import { listen, type Listening } from '../lib/http/serve.js';

/** What the browser app learns at load: which mode it runs in and how people sign in. */
export interface DashboardConfig {
  /** `embedded`: live updates from `/v1/events`; `convex`: from Convex queries, signed in with Clerk. */
  mode: 'embedded' | 'convex';
  /** Local sign-in (`POST /auth/local-token`): only when the platform verifies no Clerk sessions. */
  localSignIn: boolean;
  clerkPublishableKey: string | null;
  convexUrl: string | null;
}

export const DASHBOARD_DIST = resolve(import.meta.dirname, '../dist/web');

export function dashboardConfigFromEnv(env: NodeJS.ProcessEnv, authMode: 'local' | 'clerk'): DashboardConfig {
  const clerkPublishableKey = env.CLERK_PUBLISHABLE_KEY || null;
  const convexUrl = env.CONVEX_URL || null;
  return {
    mode: convexUrl ? 'convex' : 'embedded',
    localSignIn: authMode === 'local',
    clerkPublishableKey,
    convexUrl,
  };
}

export function createDashboardApp(opts: {
  apiUrl: string;
  gatewayUrl: string;
  config: DashboardConfig;
  root?: string;
}) {
  const root = opts.root ?? DASHBOARD_DIST;
  const forward = (c: Context, target: string) => {
    const url = new URL(c.req.url);
    return proxy(`${target}${url.pathname}${url.search}`, { raw: c.req.raw });
  };
  const app = new Hono()
    .get('/config.json', (c) => {
      c.header('Cache-Control', 'no-store');
      return c.json(opts.config);
    })
    .all('/v1/*', (c) => forward(c, opts.apiUrl))
    .all('/auth/*', (c) => forward(c, opts.apiUrl))
    .all('/gateway/v1/*', (c) => {
      const url = new URL(c.req.url);
      return proxy(`${opts.gatewayUrl}${url.pathname.slice('/gateway'.length)}${url.search}`, { raw: c.req.raw });
    });
  if (!existsSync(join(root, 'index.html'))) {
    return app.get('*', (c) =>
      c.text('The dashboard is not built: run `npm run build:web` (npm start builds it).', 503),
    );
  }
  // Hashed assets never change under their name; index.html always revalidates.
  return app
    .use('/assets/*', async (c, next) => {
      await next();
      if (c.res.ok) c.header('Cache-Control', 'public, max-age=31536000, immutable');
    })
    .use('*', serveStatic({ root }))
    .get('*', serveStatic({ root, path: 'index.html' }));
}

export async function startDashboard(opts: {
  port: number;
  apiUrl: string;
  gatewayUrl: string;
  config: DashboardConfig;
}): Promise<Listening> {
  return listen(createDashboardApp(opts).fetch, opts.port);
}
