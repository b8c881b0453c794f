import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp } from '../../api/app.js';
import { ChangeFeed } from '../../api/change-feed.js';
import { createGatewayApp } from '../../gateway/app.js';
import { ServingCache } from '../../gateway/serving-cache.js';
import { newId } from '../../lib/ids.js';
import { OwnerIdKey, WorkflowKindKey } from '../../lib/temporal/search-attributes.js';
import { localAuth } from '../../test/helpers/auth.js';
import { deployLive, startDeployEnv, type DeployEnv } from '../../test/helpers/deploy-env.js';
import { echoVersion } from '../../test/helpers/fixtures.js';
import { client, expectError } from '../../test/helpers/http.js';
import { LS_VARIANTS, lsEvent, lsSign, testBillingConfig } from '../../test/helpers/lemonsqueezy.js';
import { replayAndRecord } from '../../test/helpers/temporal.js';
import {
  BILLING_GRACE_WORKFLOW_KIND,
  BILLING_WEBHOOK_WORKFLOW_KIND,
  billingGraceWorkflowId,
  billingWebhookWorkflowId,
} from './config.js';
import { billingGraceQuery, type BillingGraceState, type BillingWebhookResult } from './messages.js';

// Lemon Squeezy deliveries through the real api, applied by the real workflows on the Temporal
// dev server over a PGlite store; the gateway in front of a real agent on workerd.

let env: DeployEnv;
let changes: ChangeFeed;
let serving: ServingCache;
const auth = localAuth();
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

beforeAll(async () => {
  env = await startDeployEnv();
  changes = new ChangeFeed(env.store);
  await changes.start();
  serving = new ServingCache(env.store);
  await serving.start();
});
afterAll(async () => {
  await serving?.close();
  await changes?.close();
  await env?.close();
});

/** The api with billing on (webhook secret only), its grace period `graceMs` long. */
function api(graceMs: number) {
  return client(
    createApiApp({
      store: env.store,
      authenticate: auth.authenticate,
      workflows: env.workflows,
      deployableRuntimes: ['local'],
      log: pino({ level: 'silent' }),
      changes,
      billing: { config: { ...testBillingConfig(), graceMs } },
    }),
  );
}

const gateway = () =>
  client(
    createGatewayApp({
      serving,
      authenticate: auth.authenticate,
      apiKeys: env.store,
      providers: { local: env.provider },
      limits: { invokeTimeoutMs: 5_000, streamMaxMs: 5_000, replyMaxBytes: 256 * 1024 },
      idempotency: env.store,
      log: pino({ level: 'silent' }),
    }),
  );

async function deliver(call: ReturnType<typeof client>, body: string) {
  const res = await call('POST', '/webhooks/lemonsqueezy', { rawBody: body, headers: { 'x-signature': lsSign(body) } });
  expect(res.status).toBe(200);
  return (await res.json()) as { firstDelivery: boolean; workflowId: string };
}

const webhookResult = (body: string) =>
  env.client.workflow.getHandle(billingWebhookWorkflowId(sha256(body))).result() as Promise<BillingWebhookResult>;

async function auditActions(userId: string) {
  return (await env.store.listAudit(userId, { limit: 100 })).items.map((e) => e.action);
}

describe('billing webhook workflow', () => {
  it('applies ten concurrent deliveries of one event once, and a later retry of it not at all', async () => {
    const userId = newId('usr');
    await env.store.ensureUser(userId, new Date(), 'free');
    const call = api(60_000);
    const body = lsEvent('subscription_created', userId, { variant: LS_VARIANTS.starter });
    const answers = await Promise.all(Array.from({ length: 10 }, () => deliver(call, body)));
    expect(answers.filter((a) => a.firstDelivery)).toHaveLength(1);
    const workflowId = `ls-${sha256(body)}`;
    expect(new Set(answers.map((a) => a.workflowId))).toEqual(new Set([workflowId]));

    const result = await webhookResult(body);
    expect(result).toMatchObject({ outcome: 'plan_changed', tier: 'starter', userId });
    expect(await env.store.getUser(userId)).toMatchObject({
      tier: 'starter',
      billing: { subscriptionId: '9001', customerId: '555', subscriptionItemId: '8001', status: 'active' },
    });
    expect((await auditActions(userId)).filter((a) => a === 'billing.subscription_applied')).toHaveLength(1);

    const handle = env.client.workflow.getHandle(workflowId);
    const { runId } = await handle.describe();
    // Lemon Squeezy delivers it again after it was applied: the ended workflow is not run again
    expect(await deliver(call, body)).toMatchObject({ firstDelivery: false, workflowId });
    expect((await handle.describe()).runId).toBe(runId);
    expect((await auditActions(userId)).filter((a) => a === 'billing.subscription_applied')).toHaveLength(1);
    const attrs = (await handle.describe()).typedSearchAttributes;
    expect(attrs.get(WorkflowKindKey)).toBe(BILLING_WEBHOOK_WORKFLOW_KIND);
    expect(attrs.get(OwnerIdKey)).toBe(userId);
    await replayAndRecord(handle, import.meta.dirname, 'subscription-created.json');
  });

  it('a failed payment’s grace period ends in free: agents past it paused (not deleted), the gateway answers 403', async () => {
    const userId = newId('usr');
    await env.store.ensureUser(userId, new Date(), 'pro');
    const token = await auth.token(userId);
    const agent = (name: string) =>
      env.store.createAgent({ id: newId('agt'), ownerId: userId, name, runtime: 'local', now: new Date() });
    const kept = await agent('kept'); // the oldest stays
    const served = await agent('served');
    const third = await agent('third');
    await deployLive(env, userId, served.id, echoVersion('v1'));
    const invoke = () => gateway()('POST', `/v1/agents/${served.id}/invoke`, { token, body: { input: 'hi' } });
    expect((await invoke()).status).toBe(200);

    const call = api(2_000);
    const body = lsEvent('subscription_payment_failed', userId);
    await deliver(call, body);
    const opened = await webhookResult(body);
    expect(opened).toMatchObject({ outcome: 'grace_opened', grace: { workflowId: billingGraceWorkflowId(userId) } });
    // during the grace period the paid tier holds, and GET /v1/billing shows its end
    const during = await (await call('GET', '/v1/billing', { token })).json();
    expect(during).toMatchObject({ tier: 'pro', gracePeriodEndsAt: opened.grace!.endsAt });
    // a second failed payment joins the grace period that runs
    const again = lsEvent('subscription_payment_failed', userId);
    await deliver(call, again);
    expect((await webhookResult(again)).grace).toEqual(opened.grace);

    const grace = env.client.workflow.getHandle(billingGraceWorkflowId(userId));
    const ended = (await grace.result()) as BillingGraceState;
    expect(ended).toMatchObject({ state: 'downgraded', endsAt: opened.grace!.endsAt });
    expect(ended.state === 'downgraded' && [...ended.paused].sort()).toEqual([served.id, third.id].sort());
    expect(await env.store.getUser(userId)).toMatchObject({
      tier: 'free',
      billing: { graceEndsAt: null, status: 'unpaid' },
    });
    expect((await env.store.getAgent(userId, kept.id)).pausedAt).toBeNull();
    for (const id of [served.id, third.id])
      expect(await env.store.getAgent(userId, id)).toMatchObject({ status: 'active', pausedAt: expect.any(String) });
    const actions = await auditActions(userId);
    expect(actions.filter((a) => a === 'billing.grace_started')).toHaveLength(1);
    expect(actions.filter((a) => a === 'billing.grace_ended')).toHaveLength(1);
    expect(actions.filter((a) => a === 'agent.paused')).toHaveLength(2);

    await expectError(await invoke(), 403, 'entitlement_required');
    // paying again (a new subscription on pro) resumes them
    const paid = lsEvent('subscription_updated', userId, { variant: LS_VARIANTS.pro, status: 'active' });
    await deliver(call, paid);
    expect((await webhookResult(paid)).resumed.sort()).toEqual([served.id, third.id].sort());
    await expect.poll(async () => (await invoke()).status, { timeout: 10_000 }).toBe(200);

    expect((await grace.describe()).typedSearchAttributes.get(WorkflowKindKey)).toBe(BILLING_GRACE_WORKFLOW_KIND);
    await replayAndRecord(
      env.client.workflow.getHandle(billingWebhookWorkflowId(sha256(body))),
      import.meta.dirname,
      'payment-failed.json',
    );
    await replayAndRecord(grace, import.meta.dirname, 'grace-downgraded.json');
  });

  it('a recovered payment signals the grace period: no downgrade, nothing paused', async () => {
    const userId = newId('usr');
    await env.store.ensureUser(userId, new Date(), 'pro');
    const agents = [];
    for (const name of ['one', 'two'])
      agents.push(
        await env.store.createAgent({ id: newId('agt'), ownerId: userId, name, runtime: 'local', now: new Date() }),
      );
    const call = api(60_000);
    const failed = lsEvent('subscription_payment_failed', userId);
    await deliver(call, failed);
    await webhookResult(failed);
    const grace = env.client.workflow.getHandle(billingGraceWorkflowId(userId));
    await expect.poll(async () => (await grace.query(billingGraceQuery)).state, { timeout: 10_000 }).toBe('waiting');

    const recovered = lsEvent('subscription_payment_recovered', userId);
    await deliver(call, recovered);
    expect(await webhookResult(recovered)).toMatchObject({ outcome: 'payment_recovered', tier: 'pro', paused: [] });
    expect(await grace.result()).toMatchObject({ state: 'recovered' });
    expect(await env.store.getUser(userId)).toMatchObject({
      tier: 'pro',
      billing: { graceEndsAt: null, status: 'active' },
    });
    for (const a of agents) expect((await env.store.getAgent(userId, a.id)).pausedAt).toBeNull();
    expect(await auditActions(userId)).toContain('billing.payment_recovered');
    expect(await auditActions(userId)).not.toContain('billing.grace_ended');

    await replayAndRecord(
      env.client.workflow.getHandle(billingWebhookWorkflowId(sha256(recovered))),
      import.meta.dirname,
      'payment-recovered.json',
    );
    await replayAndRecord(grace, import.meta.dirname, 'grace-recovered.json');
  });

  it('expiry drops to free at once; the add-on’s variant turns AgentCore on and off', async () => {
    const userId = newId('usr');
    await env.store.ensureUser(userId, new Date(), 'free');
    const call = api(60_000);
    const steps: [string, Record<string, string>, object][] = [
      ['subscription_created', { variant: LS_VARIANTS.pro }, { tier: 'pro', addOns: [] }],
      ['subscription_created', { variant: LS_VARIANTS.agentcore }, { tier: 'pro', addOns: ['agentcore'] }],
      [
        'subscription_cancelled',
        { variant: LS_VARIANTS.pro, status: 'cancelled' },
        { tier: 'pro', billing: { status: 'cancelled' } },
      ],
      ['subscription_expired', { variant: LS_VARIANTS.agentcore, status: 'expired' }, { tier: 'pro', addOns: [] }],
      [
        'subscription_expired',
        { variant: LS_VARIANTS.pro, status: 'expired' },
        { tier: 'free', billing: { status: 'expired' } },
      ],
    ];
    for (const [event, opts, expected] of steps) {
      const body = lsEvent(event, userId, opts);
      await deliver(call, body);
      await webhookResult(body);
      expect(await env.store.getUser(userId), `${event} ${JSON.stringify(opts)}`).toMatchObject(expected);
    }
  });
});
