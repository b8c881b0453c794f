import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, type Listening } from '../lib/http/serve.js';
import { createDashboardApp, dashboardConfigFromEnv } from './server.js';

// The dashboard's server: /config.json, the same-origin proxy to the api and the gateway
// (bodies, headers and streams pass through), and the built app with its client-side routes.

let api: Listening;
let gateway: Listening;
const root = mkdtempSync(join(tmpdir(), 'wh-dash-'));

beforeAll(async () => {
  writeFileSync(join(root, 'index.html'), '<!doctype html><div id="root"></div>');
  api = await listen(
    new Hono()
      .post('/v1/echo', async (c) =>
        c.json({ auth: c.req.header('authorization'), body: await c.req.json(), q: c.req.query('x') }),
      )
      .post('/auth/local-token', (c) => c.json({ token: 't' })).fetch,
    0,
  );
  gateway = await listen(
    new Hono().post('/v1/agents/a/invoke', (c) => c.text('data: hi\n\n', 200, { 'content-type': 'text/event-stream' }))
      .fetch,
    0,
  );
});
afterAll(async () => {
  await api?.close();
  await gateway?.close();
});

const app = () =>
  createDashboardApp({
    apiUrl: api.url,
    gatewayUrl: gateway.url,
    root,
    config: dashboardConfigFromEnv({}, 'local'),
  });

describe('dashboard server', () => {
  it('says the mode and the sign-in at /config.json', async () => {
    const res = await app().request('/config.json');
    expect(await res.json()).toEqual({
      mode: 'embedded',
      localSignIn: true,
      clerkPublishableKey: null,
      convexUrl: null,
    });
    expect(
      dashboardConfigFromEnv({ CONVEX_URL: 'https://x.convex.cloud', CLERK_PUBLISHABLE_KEY: 'pk_test_x' }, 'clerk'),
    ).toEqual({
      mode: 'convex',
      localSignIn: false,
      clerkPublishableKey: 'pk_test_x',
      convexUrl: 'https://x.convex.cloud',
    });
  });

  it('proxies /v1 and /auth to the api with headers, query and body', async () => {
    const res = await app().request('/v1/echo?x=1', {
      method: 'POST',
      headers: { authorization: 'Bearer abc', 'content-type': 'application/json' },
      body: JSON.stringify({ hello: 'world' }),
    });
    expect(await res.json()).toEqual({ auth: 'Bearer abc', body: { hello: 'world' }, q: '1' });
    expect((await app().request('/auth/local-token', { method: 'POST' })).status).toBe(200);
  });

  it('proxies /gateway/v1 to the gateway’s /v1, streams included', async () => {
    const res = await app().request('/gateway/v1/agents/a/invoke', { method: 'POST' });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(await res.text()).toBe('data: hi\n\n');
  });

  it('serves the app at every client-side route, and says when it is not built', async () => {
    for (const path of ['/', '/agents/agt_1', '/usage']) {
      const res = await app().request(path);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('<div id="root">');
    }
    const unbuilt = createDashboardApp({
      apiUrl: api.url,
      gatewayUrl: gateway.url,
      root: join(root, 'nope'),
      config: dashboardConfigFromEnv({}, 'local'),
    });
    const res = await unbuilt.request('/');
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('npm run build:web');
  });
});
