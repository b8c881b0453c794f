import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { getGlobalDispatcher, MockAgent, setGlobalDispatcher, type Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lemonSqueezyClient } from '../../lib/billing/lemonsqueezy.js';
import { BillingView } from '../../lib/contracts/index.js';
import { openStore, type Store } from '../../lib/store/index.js';
import { localAuth } from '../../test/helpers/auth.js';
import { client, expectError } from '../../test/helpers/http.js';
import { LS_VARIANTS, lsEvent, lsSign, testBillingConfig } from '../../test/helpers/lemonsqueezy.js';
import { fakeWorkflows, type FakeWorkflows } from '../../test/helpers/workflows.js';
import { createApiApp } from '../app.js';
import { ChangeFeed } from '../change-feed.js';
import type { ApiDeps } from '../deps.js';

// Billing routes over a real PGlite store and the real Lemon Squeezy SDK (intercepted at fetch);
// the workflows they start are faked here (workflows/billing-webhook/workflow.test.ts runs them).

let store: Store;
let changes: ChangeFeed;
let workflows: FakeWorkflows;
const auth = localAuth();
let base: ApiDeps;

beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  changes = new ChangeFeed(store);
  await changes.start();
});
afterAll(async () => {
  await changes?.close();
  await store?.close();
});
beforeEach(() => {
  workflows = fakeWorkflows();
  base = {
    store,
    authenticate: auth.authenticate,
    workflows,
    deployableRuntimes: ['local'],
    log: pino({ level: 'silent' }),
    changes,
    defaultTier: 'free',
  };
});

/** The api with billing as configured: webhook secret only (no API key), unless told. */
const api = (billing: ApiDeps['billing'] | null = { config: testBillingConfig() }) =>
  client(createApiApp({ ...base, ...(billing ? { billing } : {}) }));

const deliver = (call: ReturnType<typeof client>, body: string, signature: string | null = lsSign(body)) =>
  call('POST', '/webhooks/lemonsqueezy', {
    rawBody: body,
    headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'x-signature': signature }) },
  });

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('POST /webhooks/lemonsqueezy', () => {
  it('answers without LEMONSQUEEZY_API_KEY: records the delivery and starts ls-<sha256 of the body>', async () => {
    const call = api();
    await store.ensureUser('wh-alice', new Date());
    const body = lsEvent('subscription_created', 'wh-alice', { variant: LS_VARIANTS.starter });
    const res = await deliver(call, body);
    expect(res.status).toBe(200);
    const key = sha256(body);
    expect(await res.json()).toEqual({
      received: true,
      eventKey: key,
      eventName: 'subscription_created',
      firstDelivery: true,
      workflowId: `ls-${key}`,
    });
    expect(workflows.billingWebhooks).toEqual([
      {
        eventKey: key,
        eventName: 'subscription_created',
        userId: 'wh-alice',
        subscriptionId: '9001',
        customerId: '555',
        subscriptionItemId: '8001',
        status: 'active',
        tier: 'starter',
        addOn: null,
        graceMs: 7 * 86_400_000,
      },
    ]);
    // recorded once in webhook_events
    expect(
      await store.recordWebhookEvent({ provider: 'lemonsqueezy', eventId: key, eventName: 'x', now: new Date() }),
    ).toBe(false);
  });

  it('refuses a missing, wrong or stale signature and a body altered after signing with 401, changing nothing', async () => {
    const call = api();
    const body = lsEvent('subscription_expired', 'wh-bob');
    const altered = body.replace('"active"', '"expired"');
    expect(altered).not.toBe(body);
    const attempts: [string, string | null][] = [
      [body, null],
      [body, ''],
      [body, 'not-hex'],
      [body, lsSign(body, 'another-secret')],
      [body, lsSign(body).slice(0, 32)],
      [body, lsSign(body).replace(/.$/, (c) => (c === '0' ? '1' : '0'))],
      [altered, lsSign(body)],
    ];
    for (const [raw, signature] of attempts) {
      const error = await expectError(await deliver(call, raw, signature), 401, 'unauthorized');
      expect(error.message).not.toContain('whsec');
    }
    expect(workflows.billingWebhooks).toEqual([]);
    // nothing was recorded: the genuine delivery is still a first
    for (const raw of [body, altered])
      expect(
        await store.recordWebhookEvent({
          provider: 'lemonsqueezy',
          eventId: sha256(raw),
          eventName: 'x',
          now: new Date(),
        }),
      ).toBe(true);
  });

  it('records ten concurrent deliveries of one event once and starts its workflow once', async () => {
    const call = api();
    const body = lsEvent('subscription_updated', 'wh-carol');
    const answers = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const res = await deliver(call, body);
        expect(res.status).toBe(200);
        return (await res.json()) as { firstDelivery: boolean; workflowId: string };
      }),
    );
    expect(answers.filter((a) => a.firstDelivery)).toHaveLength(1);
    expect(new Set(answers.map((a) => a.workflowId))).toEqual(new Set([`ls-${sha256(body)}`]));
    expect(workflows.billingWebhooks).toHaveLength(1);
  });

  it('acknowledges a verified event it does not act on, or one without a user id, without starting anything', async () => {
    const call = api();
    for (const body of [lsEvent('order_created', 'wh-dan'), lsEvent('subscription_created', null)]) {
      const res = await deliver(call, body);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ firstDelivery: true, workflowId: null });
    }
    expect(workflows.billingWebhooks).toEqual([]);
  });

  it('refuses a signed body that is not a webhook (400), and answers 404 when no webhook secret is set', async () => {
    const call = api();
    await expectError(await deliver(call, 'not json'), 400, 'validation_failed');
    await expectError(await deliver(call, JSON.stringify({ meta: {} })), 400, 'validation_failed');
    const body = lsEvent('subscription_created', 'wh-erin');
    await expectError(await deliver(api(null), body), 404, 'not_found');
    await expectError(
      await deliver(api({ config: { ...testBillingConfig(), webhookSecret: undefined } }), body),
      404,
      'not_found',
    );
    expect(workflows.billingWebhooks).toEqual([]);
  });

  it('answers a retryable 500 when the workflow cannot be started, and starts it on the next delivery', async () => {
    const call = api();
    const body = lsEvent('subscription_resumed', 'wh-fay');
    workflows.failNextStarts(1);
    await expectError(await deliver(call, body), 500, 'internal');
    const res = await deliver(call, body);
    expect(await res.json()).toMatchObject({ firstDelivery: false, workflowId: `ls-${sha256(body)}` });
    expect(workflows.billingWebhooks).toHaveLength(1);
  });
});

describe('POST /v1/billing/checkout', () => {
  let mock: MockAgent;
  let previous: Dispatcher;
  beforeEach(() => {
    previous = getGlobalDispatcher();
    mock = new MockAgent();
    mock.disableNetConnect();
    setGlobalDispatcher(mock);
  });
  afterEach(async () => {
    setGlobalDispatcher(previous);
    await mock.close();
  });

  const withCheckout = () =>
    api({
      config: testBillingConfig({ apiKey: true }),
      lemonSqueezy: lemonSqueezyClient({ apiKey: 'ls-test-api-key', storeId: '42' }),
    });

  it('creates a checkout through the SDK for the tier’s variant with the user id in custom data', async () => {
    const sent: unknown[] = [];
    mock
      .get('https://api.lemonsqueezy.com')
      .intercept({ path: '/v1/checkouts', method: 'POST' })
      .reply(201, (req) => {
        const headers = Object.entries(req.headers as Record<string, string>);
        const auth = headers.find(([name]) => name.toLowerCase() === 'authorization')?.[1];
        sent.push({ body: JSON.parse(String(req.body)), auth });
        return {
          data: {
            type: 'checkouts',
            id: 'chk_1',
            attributes: { url: 'https://shop.lemonsqueezy.com/checkout/buy/abc' },
          },
        };
      });
    const call = withCheckout();
    const res = await call('POST', '/v1/billing/checkout', {
      token: await auth.token('co-alice'),
      body: { tier: 'pro' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ url: 'https://shop.lemonsqueezy.com/checkout/buy/abc' });
    expect(sent).toEqual([
      {
        auth: 'Bearer ls-test-api-key',
        body: {
          data: expect.objectContaining({
            type: 'checkouts',
            attributes: expect.objectContaining({
              checkout_data: expect.objectContaining({ custom: { user_id: 'co-alice' } }),
            }),
            relationships: {
              store: { data: { type: 'stores', id: '42' } },
              variant: { data: { type: 'variants', id: LS_VARIANTS.pro } },
            },
          }),
        },
      },
    ]);
  });

  it('refuses a tier it does not sell, a malformed body, no credentials, and answers 500 when Lemon Squeezy fails', async () => {
    const call = withCheckout();
    const token = await auth.token('co-bob');
    await expectError(
      await call('POST', '/v1/billing/checkout', { token, body: { tier: 'free' } }),
      400,
      'validation_failed',
    );
    await expectError(
      await call('POST', '/v1/billing/checkout', { token, body: { tier: 'pro', x: 1 } }),
      400,
      'validation_failed',
    );
    await expectError(await call('POST', '/v1/billing/checkout', { body: { tier: 'pro' } }), 401, 'unauthorized');
    await expectError(
      await call('POST', '/v1/billing/checkout', { token: 'forged', body: { tier: 'pro' } }),
      401,
      'unauthorized',
    );
    mock
      .get('https://api.lemonsqueezy.com')
      .intercept({ path: '/v1/checkouts', method: 'POST' })
      .reply(503, { errors: [{ detail: 'down for maintenance' }] });
    const error = await expectError(
      await call('POST', '/v1/billing/checkout', { token, body: { tier: 'starter' } }),
      500,
      'internal',
    );
    expect(error.message).not.toContain('ls-test-api-key');
  });

  it('is not available without an API key (billing off)', async () => {
    await expectError(
      await api()('POST', '/v1/billing/checkout', { token: await auth.token('co-carl'), body: { tier: 'pro' } }),
      404,
      'not_found',
    );
  });
});

describe('GET /v1/billing', () => {
  it('shows the caller’s tier, add-ons, subscription and grace period end; no one else’s', async () => {
    const call = api();
    const token = await auth.token('bv-alice');
    const empty = BillingView.parse(await (await call('GET', '/v1/billing', { token })).json());
    expect(empty).toEqual({
      tier: 'free',
      addOns: [],
      subscription: null,
      gracePeriodEndsAt: null,
      checkoutAvailable: false,
    });
    const endsAt = new Date(Date.now() + 86_400_000).toISOString();
    await store.changeUserPlan({
      userId: 'bv-alice',
      tier: 'pro',
      addOns: ['agentcore'],
      billing: { subscriptionId: 'sub_1', customerId: 'cus_1', status: 'past_due', graceEndsAt: endsAt },
      now: new Date(),
    });
    expect(await (await call('GET', '/v1/billing', { token })).json()).toEqual({
      tier: 'pro',
      addOns: ['agentcore'],
      subscription: { id: 'sub_1', status: 'past_due', customerId: 'cus_1' },
      gracePeriodEndsAt: endsAt,
      checkoutAvailable: false,
    });
    const other = await (await call('GET', '/v1/billing', { token: await auth.token('bv-bob') })).json();
    expect(other).toMatchObject({ tier: 'free', subscription: null, gracePeriodEndsAt: null });
    await expectError(await call('GET', '/v1/billing', {}), 401, 'unauthorized');
  });
});
