import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { newTestBackend, type TestBackend } from '../test/helpers/convex.js';
import { api } from './_generated/api.js';
import schema, { type AgentDoc, type DeploymentDoc } from './schema.js';

const alice = 'user_alice';
const bob = 'user_bob';
const page = { paginationOpts: { numItems: 10, cursor: null } };

/** Seeds an owner with a user row, an agent with one live deployment, usage and an audit entry. */
async function seedOwner(t: TestBackend, ownerId: string, suffix: string) {
  const agentId = `agt_${suffix}`;
  const deploymentId = `dep_${suffix}`;
  const at = Date.UTC(2026, 10, 3);
  await t.run(async (ctx) => {
    await ctx.db.insert('users', {
      userId: ownerId,
      tier: 'starter',
      defaultRuntime: 'local',
      billing: { customerId: `cus_${suffix}`, subscriptionId: null, subscriptionItemId: null, status: 'active' },
      telemetryFrom: null,
      createdAt: at,
      updatedAt: at,
    });
    const agent: AgentDoc = {
      agentId,
      ownerId,
      name: 'hello',
      runtime: 'local',
      status: 'active',
      activeDeploymentId: deploymentId,
      createdAt: at,
      updatedAt: at,
      deletedAt: null,
    };
    await ctx.db.insert('agents', agent);
    const deployment: DeploymentDoc = {
      deploymentId,
      agentId,
      ownerId,
      version: 1,
      runtime: 'local',
      status: 'live',
      sourceType: 'files',
      entry: 'index.js',
      artifactDigest: 'sha256:abc',
      providerRef: 'v1',
      workflowId: `deploy-${deploymentId}`,
      steps: [{ step: 'mark_live', status: 'succeeded', at: new Date(at).toISOString() }],
      error: null,
      createdAt: at,
      updatedAt: at,
      finishedAt: at,
    };
    await ctx.db.insert('deployments', deployment);
    await ctx.db.insert('usage', {
      ownerId,
      period: '2026-11',
      runtime: 'local',
      requests: 3,
      errors: 1,
      durationMs: 30,
      computeMs: 12,
      inputBytes: 300,
      outputBytes: 600,
      inputTokens: 40,
      outputTokens: 80,
    });
    await ctx.db.insert('auditLog', {
      ownerId,
      seq: 1,
      actor: ownerId,
      action: 'agent.created',
      targetType: 'agent',
      targetId: agentId,
      details: null,
      at,
    });
  });
  return { agentId, deploymentId };
}

describe('dashboard queries', () => {
  let t: TestBackend;
  let mine: { agentId: string; deploymentId: string };
  let theirs: { agentId: string; deploymentId: string };

  beforeEach(async () => {
    t = newTestBackend();
    mine = await seedOwner(t, alice, 'a');
    theirs = await seedOwner(t, bob, 'b');
  });

  it('throw without a signed-in user, never answering empty', async () => {
    await expect(t.query(api.dashboard.agents, page)).rejects.toMatchObject({ data: { code: 'unauthorized' } });
    await expect(t.query(api.dashboard.deployments, { agentId: mine.agentId, ...page })).rejects.toMatchObject({
      data: { code: 'unauthorized' },
    });
    await expect(t.query(api.dashboard.deployment, { deploymentId: mine.deploymentId })).rejects.toMatchObject({
      data: { code: 'unauthorized' },
    });
    await expect(t.query(api.dashboard.usage, { period: '2026-11' })).rejects.toMatchObject({
      data: { code: 'unauthorized' },
    });
    await expect(t.query(api.dashboard.billing, { period: '2026-11' })).rejects.toMatchObject({
      data: { code: 'unauthorized' },
    });
    await expect(t.query(api.dashboard.audit, page)).rejects.toMatchObject({ data: { code: 'unauthorized' } });
  });

  it('show the signed-in owner what is theirs', async () => {
    const asAlice = t.withIdentity({ subject: alice });
    const agents = await asAlice.query(api.dashboard.agents, page);
    expect(agents.page).toEqual([
      expect.objectContaining({
        id: mine.agentId,
        ownerId: alice,
        activeDeploymentId: mine.deploymentId,
        createdAt: '2026-11-03T00:00:00.000Z',
      }),
    ]);
    expect(agents.isDone).toBe(true);
    const deployments = await asAlice.query(api.dashboard.deployments, { agentId: mine.agentId, ...page });
    expect(deployments.page.map((d) => d.id)).toEqual([mine.deploymentId]);
    expect(await asAlice.query(api.dashboard.deployment, { deploymentId: mine.deploymentId })).toMatchObject({
      status: 'live',
      steps: [{ step: 'mark_live', status: 'succeeded' }],
      finishedAt: '2026-11-03T00:00:00.000Z',
    });
    expect(await asAlice.query(api.dashboard.usage, { period: '2026-11' })).toEqual([
      {
        ownerId: alice,
        period: '2026-11',
        runtime: 'local',
        requests: 3,
        errors: 1,
        durationMs: 30,
        computeMs: 12,
        inputBytes: 300,
        outputBytes: 600,
        inputTokens: 40,
        outputTokens: 80,
      },
    ]);
    expect(await asAlice.query(api.dashboard.billing, { period: '2026-11' })).toMatchObject({
      tier: 'starter',
      billing: { customerId: 'cus_a', status: 'active' },
      period: { ownerId: alice, period: '2026-11', status: 'open', totals: null },
    });
    expect((await asAlice.query(api.dashboard.audit, page)).page).toEqual([
      expect.objectContaining({ ownerId: alice, action: 'agent.created', targetId: mine.agentId }),
    ]);
  });

  it('never show another owner’s agents, deployments, usage or audit log', async () => {
    const asAlice = t.withIdentity({ subject: alice });
    expect((await asAlice.query(api.dashboard.agents, page)).page.map((a) => a.ownerId)).toEqual([alice]);
    await expect(asAlice.query(api.dashboard.deployments, { agentId: theirs.agentId, ...page })).rejects.toMatchObject({
      data: { code: 'not_found' },
    });
    await expect(asAlice.query(api.dashboard.deployment, { deploymentId: theirs.deploymentId })).rejects.toMatchObject({
      data: { code: 'not_found' },
    });
    expect((await asAlice.query(api.dashboard.usage, { period: '2026-11' })).map((u) => u.ownerId)).toEqual([alice]);
    expect((await asAlice.query(api.dashboard.audit, page)).page.map((e) => e.ownerId)).toEqual([alice]);
    // a signed-in user the store has never seen owns nothing
    const asStranger = t.withIdentity({ subject: 'user_stranger' });
    expect((await asStranger.query(api.dashboard.agents, page)).page).toEqual([]);
    await expect(asStranger.query(api.dashboard.billing, { period: '2026-11' })).rejects.toMatchObject({
      data: { code: 'not_found' },
    });
  });
});

describe('service functions', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('refuse a wrong secret, and every secret while none is configured', async () => {
    const t = newTestBackend();
    const { agentId } = await seedOwner(t, alice, 'a');
    vi.stubEnv('WEBHOST_SERVICE_SECRET', 'right');
    await expect(t.query(api.agents.get, { secret: 'right', ownerId: alice, agentId })).resolves.toMatchObject({
      id: agentId,
    });
    await expect(t.query(api.agents.get, { secret: 'wrong', ownerId: alice, agentId })).rejects.toThrow(
      /service secret/,
    );
    await expect(
      t.mutation(api.agents.rename, { secret: 'righ', ownerId: alice, agentId, name: 'taken-over', now: Date.now() }),
    ).rejects.toThrow(/service secret/);
    // a signed-in dashboard user is not a service
    await expect(
      t.withIdentity({ subject: alice }).query(api.agents.get, { secret: '', ownerId: alice, agentId }),
    ).rejects.toThrow(/service secret/);
    vi.stubEnv('WEBHOST_SERVICE_SECRET', undefined);
    await expect(t.query(api.agents.get, { secret: '', ownerId: alice, agentId })).rejects.toThrow(/service secret/);
    expect(await t.run(async (ctx) => (await ctx.db.query('agents').collect()).map((a) => a.name))).toEqual(['hello']);
  });
});

describe('schema', () => {
  it('has no field a secret value could be kept in', () => {
    expect(Object.keys(schema.tables.secretMetadata.validator.fields).sort()).toEqual([
      'agentId',
      'deletedAt',
      'name',
      'ownerId',
      'updatedAt',
      'version',
    ]);
  });
});
