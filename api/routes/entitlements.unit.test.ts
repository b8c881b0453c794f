import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../lib/contracts/index.js';
import { openStore, type Store } from '../../lib/store/index.js';
import { apiUnderTest } from '../../test/helpers/api.js';
import { expectError } from '../../test/helpers/http.js';
import { fakeWorkflows, type FakeWorkflows } from '../../test/helpers/workflows.js';

// Tier entitlements at the api (architecture.md, Tiers): the agent count and the runtimes a
// tier allows, at create, at a runtime change and at deploy: `403 entitlement_required`
// naming what would allow it, with nothing changed. Every runtime is configured here, so
// what is refused is refused by the tier, not by the platform.

let store: Store;
let workflows: FakeWorkflows;
let api: Awaited<ReturnType<typeof apiUnderTest>>;

beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  workflows = fakeWorkflows();
  api = await apiUnderTest(store, workflows, { runtimes: ['local', 'cloudflare', 'agentcore'], defaultTier: 'free' });
});
afterAll(async () => {
  await api?.close();
  await store?.close();
});

let n = 0;
const create = async (token: string, runtime = 'local') =>
  api.call('POST', '/v1/agents', { token, body: { name: `ent-${n++}`, runtime } });
const list = async (token: string) =>
  ((await (await api.call('GET', '/v1/agents', { token })).json()) as { items: Agent[] }).items;

describe('entitlements', () => {
  it('starts a new user on the default tier, and holds the free tier to one agent', async () => {
    const token = await api.token('ent-free');
    expect((await create(token)).status).toBe(201);
    expect((await store.getUser('ent-free')).tier).toBe('free');
    const err = await expectError(await create(token), 403, 'entitlement_required');
    expect(err.message).toBe(
      'the free tier allows 1 agent; delete one, or move to starter (5) or pro (unlimited) or enterprise (unlimited)',
    );
    expect(await list(token)).toHaveLength(1);
    // deleting one makes room
    await api.call('DELETE', `/v1/agents/${(await list(token))[0]!.id}`, { token });
    expect((await create(token)).status).toBe(201);
  });

  it('lets exactly one of many concurrent creates take the last place', async () => {
    const token = await api.token('ent-race');
    await api.call('GET', '/v1/agents', { token }); // first sight: on free
    await store.setUserTier({ userId: 'ent-race', tier: 'starter', now: new Date() });
    const answers = await Promise.all(Array.from({ length: 8 }, () => create(token)));
    expect(answers.filter((r) => r.status === 201)).toHaveLength(5);
    expect(answers.filter((r) => r.status === 403)).toHaveLength(3);
    expect(await list(token)).toHaveLength(5);
  });

  it('opens AgentCore to enterprise, and to pro with the add-on, and to no one else', async () => {
    const token = await api.token('ent-runtime');
    await api.call('GET', '/v1/agents', { token });
    for (const tier of ['free', 'starter', 'pro'] as const) {
      await store.setUserTier({ userId: 'ent-runtime', tier, now: new Date() });
      const err = await expectError(await create(token, 'agentcore'), 403, 'entitlement_required');
      expect(err.message).toBe(
        `the agentcore runtime needs the enterprise tier, or pro with the AgentCore add-on; this account is on ${tier}`,
      );
    }
    expect(await list(token)).toEqual([]);
    await store.setUserAddOns({ userId: 'ent-runtime', addOns: ['agentcore'], now: new Date() });
    expect((await create(token, 'agentcore')).status).toBe(201);
    await store.setUserAddOns({ userId: 'ent-runtime', addOns: [], now: new Date() });
    await store.setUserTier({ userId: 'ent-runtime', tier: 'enterprise', now: new Date() });
    expect((await create(token, 'agentcore')).status).toBe(201);
    expect((await create(token, 'cloudflare')).status).toBe(201);
  });

  it('refuses a runtime change and a deploy the tier does not allow, changing nothing', async () => {
    const token = await api.token('ent-move');
    await api.call('GET', '/v1/agents', { token });
    await store.setUserTier({ userId: 'ent-move', tier: 'enterprise', now: new Date() });
    const agent = (await (await create(token, 'agentcore')).json()) as Agent;
    await store.setUserTier({ userId: 'ent-move', tier: 'pro', now: new Date() });
    // a deploy to a runtime the account no longer has
    const source = { type: 'files', entry: 'index.js', files: { 'index.js': 'export default {}' } };
    const before = workflows.started.length;
    await expectError(
      await api.call('POST', `/v1/agents/${agent.id}/deployments`, { token, body: { source } }),
      403,
      'entitlement_required',
    );
    expect(workflows.started.length).toBe(before);
    // moving to it again
    const local = (await (await create(token, 'local')).json()) as Agent;
    await expectError(
      await api.call('PATCH', `/v1/agents/${local.id}`, { token, body: { runtime: 'agentcore' } }),
      403,
      'entitlement_required',
    );
    expect((await store.getAgent('ent-move', local.id)).runtime).toBe('local');
    const moved = await api.call('PATCH', `/v1/agents/${local.id}`, { token, body: { runtime: 'cloudflare' } });
    expect(moved.status).toBe(200);
  });
});
