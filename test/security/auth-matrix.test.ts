import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { importPKCS8, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMasterKey, telemetryKeys } from '../../lib/auth/platform-keys.js';
import { ErrorEnvelope, type ErrorCode } from '../../lib/contracts/index.js';
import { telemetryHeaders } from '../../lib/telemetry/signing.js';
import { echoVersion } from '../helpers/fixtures.js';
import { seedOwner, settled, startSecurityPlatform, type Owned } from './platform.js';
import { appRoutes, OPERATOR_ROUTES, PUBLIC_ROUTES, routeName, type Route } from './routes.js';
import { changedTables, type Snapshot } from './state.js';

// Every route of the api and the gateway (read from the apps, so a new route is in without a
// change here) × six callers who must not get in: no credentials, a token signed with another
// key, an unsigned token (alg=none), a revoked API key, and a valid user B addressing user A's
// resources with B's token, and with B's API key. Each answer is the right status with the error envelope and its request id, and
// the store — every row of every table — is the same after each request as before it.

const sec = await startSecurityPlatform('the security auth matrix');

/** A valid body for each route that reads one, holding A's ids where the body names a resource. */
const BODIES: Record<string, (a: Owned) => unknown> = {
  'api POST /v1/agents': () => ({ name: 'matrix-agent', runtime: 'local' }),
  'api PATCH /v1/agents/:agentId': () => ({ name: 'renamed-by-b' }),
  'api POST /v1/agents/:agentId/deployments': () => ({ source: echoVersion('v2') }),
  'api POST /v1/agents/:agentId/rollback': (a) => ({ deploymentId: a.deployment.id }),
  'api PUT /v1/agents/:agentId/secrets/:name': () => ({ value: 'overwritten-by-b' }),
  'api POST /v1/api-keys': (a) => ({ name: 'key of b for a', agentId: a.agent.id }),
  'api POST /v1/billing/checkout': () => ({ tier: 'starter' }),
  'api PUT /admin/users/:userId/tier': () => ({ tier: 'free' }),
  'gateway POST /v1/agents/:agentId/invoke': () => ({ input: 'matrix' }),
  'api POST /v1/webhooks': () => ({ url: 'https://example.com/b-hook', events: ['deployment.live'] }),
  'api PATCH /v1/webhooks/:endpointId': () => ({ disabled: false }),
};

/** A's resource behind each path parameter. A parameter missing here fails the test: add its resource. */
const PARAMS: Record<string, (a: Owned) => string> = {
  agentId: (a) => a.agent.id,
  deploymentId: (a) => a.deployment.id,
  keyId: (a) => a.apiKey.id,
  name: (a) => a.secretName,
  userId: (a) => a.userId,
  endpointId: (a) => a.webhook.id,
};

const CASES = [
  'no credentials',
  'token signed with another key',
  'alg=none token',
  'revoked API key',
  "B with A's ids",
  // beyond the five: B's own (valid, unbound) API key — a credential at the gateway only
  "B's API key with A's ids",
] as const;
type Case = (typeof CASES)[number];

describe.runIf(sec !== null)('every route refuses who must not get in, and changes nothing', () => {
  let a: Owned;
  let bToken: string;
  let bKey: string;
  let forged: string;
  let unsigned: string;
  let baseline: Snapshot;

  beforeAll(async () => {
    a = await seedOwner(sec!, `owner-a-${randomBytes(4).toString('hex')}`);
    bToken = await sec!.platform.token(`owner-b-${randomBytes(4).toString('hex')}`);
    // B's first request makes B's user row; before the baseline
    expect((await sec!.call(bToken, 'GET', '/v1/account')).status).toBe(200);
    const key = await sec!.call<{ key: string }>(bToken, 'POST', '/v1/api-keys', { name: 'b key' });
    expect(key.status, key.text).toBe(201);
    bKey = key.body.key;

    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const now = Math.floor(Date.now() / 1000);
    forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: 'local' })
      .setSubject(a.userId)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + 3600)
      .sign(await importPKCS8(other.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'RS256'));
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: a.userId, iat: now, nbf: now - 5, exp: now + 3600 })}.`;
    baseline = await settled(sec!.store);
  });
  afterAll(async () => sec?.stop());

  function headersFor(c: Case): Record<string, string> {
    switch (c) {
      case 'no credentials':
        return {};
      case 'token signed with another key':
        return { authorization: `Bearer ${forged}` };
      case 'alg=none token':
        return { authorization: `Bearer ${unsigned}` };
      case 'revoked API key':
        return { authorization: `Bearer ${a.revokedKey.key}`, 'x-api-key': a.revokedKey.key };
      case "B with A's ids":
        return { authorization: `Bearer ${bToken}` };
      case "B's API key with A's ids":
        return { 'x-api-key': bKey };
    }
  }

  function pathFor(route: Route): string {
    return route.path.replace(/:(\w+)/g, (_, param: string) => {
      const resource = PARAMS[param];
      if (!resource) throw new Error(`${routeName(route)}: no resource of A for :${param}; add one to PARAMS`);
      return encodeURIComponent(resource(a));
    });
  }

  /** What the answer must be: a refusal, B's own (a read naming no id), or why the case does not apply. */
  function expected(
    route: Route,
    c: Case,
    body: unknown,
  ): { status: number; code: ErrorCode } | { own: true } | string {
    const keyOpens = route.service === 'gateway' && c === "B's API key with A's ids";
    if ((c !== "B with A's ids" && !keyOpens) || OPERATOR_ROUTES(route)) return { status: 401, code: 'unauthorized' };
    const aIds = [a.agent.id, a.deployment.id, a.apiKey.id, a.webhook.id];
    if (route.params.length > 0 || aIds.some((id) => JSON.stringify(body ?? null).includes(id)))
      return { status: 404, code: 'not_found' };
    if (route.method === 'GET') return keyOpens ? 'names no resource' : { own: true };
    return 'names no resource: a write of B’s own';
  }

  async function send(route: Route, headers: Record<string, string>, body: unknown) {
    const base = route.service === 'api' ? sec!.platform.apiUrl : sec!.platform.gatewayUrl;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 20_000);
    try {
      const res = await fetch(`${base}${pathFor(route)}`, {
        method: route.method,
        headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? null : JSON.stringify(body),
        signal: controller.signal,
      });
      // a stream (the events feed) is judged by its head; its body never ends by itself
      const text = res.headers.get('content-type')?.startsWith('text/event-stream')
        ? (controller.abort(), '')
        : await res.text();
      return { res, text };
    } finally {
      clearTimeout(timer);
    }
  }

  it('answers each route × case as it must, and the store holds still', async () => {
    const routes = appRoutes().filter((r) => !(routeName(r) in PUBLIC_ROUTES));
    const mistakes: string[] = [];
    const notApplicable: string[] = [];
    let refused = 0;
    let own = 0;
    let changes = 0;
    let sent = 0;
    let before = baseline;
    for (const route of routes) {
      const body = BODIES[routeName(route)]?.(a) ?? (route.method === 'GET' ? undefined : {});
      for (const c of CASES) {
        const want = expected(route, c, body);
        if (typeof want === 'string') {
          notApplicable.push(`${routeName(route)} × ${c}: ${want}`);
          continue;
        }
        const what = `${routeName(route)} × ${c}`;
        const { res, text } = await send(route, headersFor(c), body);
        sent++;
        if ('own' in want) {
          if (res.status !== 200) mistakes.push(`${what}: ${res.status} ${text.slice(0, 200)}`);
          else if ([a.agent.id, a.deployment.id, a.apiKey.id, a.webhook.id, a.userId].some((id) => text.includes(id)))
            mistakes.push(`${what}: B's answer names A's resources: ${text.slice(0, 300)}`);
          else own++;
        } else {
          const envelope = ErrorEnvelope.safeParse(text ? JSON.parse(text) : null);
          if (res.status !== want.status || !envelope.success || envelope.data.error.code !== want.code)
            mistakes.push(`${what}: wanted ${want.status} ${want.code}, got ${res.status} ${text.slice(0, 200)}`);
          else if (envelope.data.error.requestId !== res.headers.get('x-request-id') || !envelope.data.error.requestId)
            mistakes.push(`${what}: the envelope's requestId is not the answer's X-Request-Id`);
          else refused++;
        }
        const after = await sec!.store.snapshot();
        const changed = changedTables(before, after);
        if (changed.length > 0) {
          changes++;
          mistakes.push(`${what} changed ${changed.join(', ')}`);
        }
        before = after;
      }
    }
    console.log(
      [
        `auth-matrix: ${routes.length} routes × ${CASES.length} cases = ${routes.length * CASES.length} pairs; ` +
          `${sent} requests, ${refused} refused correctly, ${own} answered as B's own (no id of A), ` +
          `${notApplicable.length} not applicable, ${changes} changes`,
        ...notApplicable.map((n) => `  not applicable: ${n}`),
      ].join('\n'),
    );
    expect(mistakes).toEqual([]);
    expect(refused).toBeGreaterThan(routes.length * 5 - 1);
    // the control: a write B may make is seen as a change, so "0 changes" above means something
    expect((await sec!.call(bToken, 'POST', '/v1/agents', { name: 'b-own-agent', runtime: 'local' })).status).toBe(201);
    expect(changedTables(before, await sec!.store.snapshot())).toEqual(
      expect.arrayContaining([expect.stringMatching(/^agents /), expect.stringMatching(/^audit_log /)]),
    );
  });

  it('the signed routes refuse bad signatures, and the public ones change nothing', async () => {
    const api = sec!.platform.apiUrl;
    const mistakes: string[] = [];
    let checked = 0;
    const expectRefused = async (what: string, res: Response, status: number, code: ErrorCode) => {
      const text = await res.text();
      const envelope = ErrorEnvelope.safeParse(JSON.parse(text));
      if (res.status !== status || !envelope.success || envelope.data.error.code !== code)
        mistakes.push(`${what}: wanted ${status} ${code}, got ${res.status} ${text.slice(0, 200)}`);
      else checked++;
    };
    const before = await sec!.store.snapshot();

    // Lemon Squeezy: X-Signature is the hex HMAC-SHA256 of the raw body under the webhook secret
    const event = JSON.stringify({
      meta: { event_name: 'subscription_created', custom_data: { user_id: a.userId } },
      data: { type: 'subscriptions', id: '1', attributes: { status: 'active', variant_id: 1 } },
    });
    const hmac = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest('hex');
    for (const [what, signature] of [
      ['no X-Signature', undefined],
      ['X-Signature under another secret', hmac('not-the-secret', event)],
      ['X-Signature of another body', hmac(sec!.webhookSecret, `${event} `)],
      ['X-Signature not hex', 'z'.repeat(64)],
    ] as const) {
      const res = await fetch(`${api}/webhooks/lemonsqueezy`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(signature ? { 'x-signature': signature } : {}) },
        body: event,
      });
      await expectRefused(`webhook, ${what}`, res, 401, 'unauthorized');
    }

    // telemetry: HMAC of `timestamp.body` under the deployment's key, timestamp within ±300 s
    const key = telemetryKeys(loadMasterKey({}, sec!.platform.dataDir))(a.deployment.id);
    const batch = JSON.stringify({
      agentId: a.agent.id,
      events: [{ id: 'bg:forged', kind: 'background', at: new Date().toISOString(), ok: true, computeMs: 999_999 }],
    });
    const right = telemetryHeaders({ key, deploymentId: a.deployment.id, body: batch });
    const attempts: [string, Record<string, string>][] = [
      ['no signature headers', { 'content-type': 'application/json' }],
      [
        'signed under another key',
        telemetryHeaders({ key: randomBytes(32), deploymentId: a.deployment.id, body: batch }),
      ],
      [
        'right key, timestamp an hour old',
        telemetryHeaders({ key, deploymentId: a.deployment.id, body: batch, now: new Date(Date.now() - 3_600_000) }),
      ],
      ["right signature, another deployment's header", { ...right, 'x-webhost-deployment': 'dep_unknown' }],
      ['right headers, another body', right],
    ];
    for (const [what, headers] of attempts) {
      const res = await fetch(`${api}/v1/telemetry`, {
        method: 'POST',
        headers,
        body: what === 'right headers, another body' ? batch.replace('999999', '1') : batch,
      });
      await expectRefused(`telemetry, ${what}`, res, 401, 'unauthorized');
    }

    // the open ones: liveness, metrics, the local sign-in (a token for anyone, by design, writing nothing)
    for (const url of [
      `${api}/healthz`,
      `${api}/metrics`,
      `${sec!.platform.gatewayUrl}/healthz`,
      `${sec!.platform.gatewayUrl}/metrics`,
    ]) {
      const res = await fetch(url);
      if (res.status !== 200) mistakes.push(`${url}: ${res.status}`);
      else checked++;
      await res.arrayBuffer();
    }
    // the codec server, open in local auth: an empty batch decodes and encodes to nothing
    for (const op of ['decode', 'encode']) {
      const res = await fetch(`${api}/codec/${op}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ payloads: [] }),
      });
      if (res.status !== 200) mistakes.push(`codec ${op}: ${res.status}`);
      else checked++;
      await res.arrayBuffer();
    }
    const signIn = await fetch(`${api}/auth/local-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'someone-new' }),
    });
    if (signIn.status !== 200) mistakes.push(`local sign-in: ${signIn.status}`);
    else checked++;
    await signIn.arrayBuffer();

    // every public route is one of these
    for (const route of appRoutes().filter((r) => routeName(r) in PUBLIC_ROUTES))
      expect(
        [
          '/healthz',
          '/metrics',
          '/auth/local-token',
          '/webhooks/lemonsqueezy',
          '/v1/telemetry',
          '/codec/decode',
          '/codec/encode',
        ],
        routeName(route),
      ).toContain(route.path);

    const changed = changedTables(before, await sec!.store.snapshot());
    console.log(
      `auth-matrix (public routes): ${Object.keys(PUBLIC_ROUTES).length} routes, ${checked} requests answered as they must, ${changed.length} changes`,
    );
    expect(mistakes).toEqual([]);
    expect(changed).toEqual([]);
    // the control: the same batch, rightly signed now, is taken — the refusals above were for their reasons
    const accepted = await fetch(`${api}/v1/telemetry`, {
      method: 'POST',
      headers: telemetryHeaders({ key, deploymentId: a.deployment.id, body: batch }),
      body: batch,
    });
    expect(accepted.status, await accepted.text()).toBe(202);
    const ignored = JSON.stringify({
      meta: { event_name: 'control_event' },
      data: { type: 'x', id: '1', attributes: {} },
    });
    const signed = await fetch(`${api}/webhooks/lemonsqueezy`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-signature': hmac(sec!.webhookSecret, ignored) },
      body: ignored,
    });
    expect(signed.status, await signed.text()).toBe(200);
  });
});
