import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../lib/ids.js';
import { openStore, type Store } from '../../lib/store/index.js';
import { apiUnderTest } from '../../test/helpers/api.js';
import { expectError } from '../../test/helpers/http.js';
import { fakeWorkflows, type FakeWorkflows } from '../../test/helpers/workflows.js';
import { rollbackWorkflowId } from '../../workflows/rollback/config.js';

// POST /v1/agents/:id/rollback over PGlite and a fake of the Temporal port: what is refused
// up front, and what is recorded and started. The workflow itself: workflows/rollback.

let store: Store;
let workflows: FakeWorkflows;
let api: Awaited<ReturnType<typeof apiUnderTest>>;
let alice: string;
let bob: string;

beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  workflows = fakeWorkflows();
  api = await apiUnderTest(store, workflows);
  alice = await api.token('alice');
  bob = await api.token('bob');
  for (const user of ['alice', 'bob']) await store.ensureUser(user, new Date());
});
afterAll(async () => {
  await api?.close();
  await store?.close();
});

const now = () => new Date();
let n = 0;

/** An agent of alice's with two live deployments (the second serving) and a failed one. */
async function agentWithHistory() {
  const agent = await store.createAgent({
    id: newId('agt'),
    ownerId: 'alice',
    name: `a-${n++}`,
    runtime: 'local',
    now: now(),
  });
  const make = async (to: 'live' | 'failed') => {
    const id = newId('dep');
    await store.createDeployment({
      id,
      ownerId: 'alice',
      agentId: agent.id,
      workflowId: `deploy-${id}`,
      source: { type: 'files', entry: 'index.js', files: { 'index.js': 'x' } },
      now: now(),
    });
    await store.transitionDeployment({ ownerId: 'alice', deploymentId: id, to: 'building', now: now() });
    if (to === 'live') {
      await store.transitionDeployment({ ownerId: 'alice', deploymentId: id, to: 'deploying', now: now() });
      await store.recordDeploymentStep({
        ownerId: 'alice',
        deploymentId: id,
        providerRef: `ref-${id}`,
        entry: { step: 'create_version', status: 'succeeded', at: now().toISOString() },
      });
    }
    await store.transitionDeployment({ ownerId: 'alice', deploymentId: id, to, now: now() });
    return id;
  };
  const v1 = await make('live');
  const v2 = await make('live');
  await store.switchActiveDeployment({ ownerId: 'alice', agentId: agent.id, expected: null, next: v2, now: now() });
  const failed = await make('failed');
  return { agentId: agent.id, v1, v2, failed };
}

const rollback = (agentId: string, body: unknown, token = alice, headers: Record<string, string> = {}) =>
  api.call('POST', `/v1/agents/${agentId}/rollback`, { token, body, headers });

describe('POST /v1/agents/:id/rollback', () => {
  it('takes the agent’s in-flight slot and starts rollback-<agentId>-<deploymentId>', async () => {
    const { agentId, v1 } = await agentWithHistory();
    const res = await rollback(agentId, { deploymentId: v1 });
    expect(res.status).toBe(202);
    const workflowId = rollbackWorkflowId(agentId, v1);
    expect(await res.json()).toEqual({ workflowId, deploymentId: v1 });
    expect(workflows.rollbacks.at(-1)).toEqual({ ownerId: 'alice', agentId, deploymentId: v1, actor: 'user:alice' });
    expect((await store.getAgent('alice', agentId)).rollbackWorkflowId).toBe(workflowId);
    // while it runs, another rollback or a deploy is refused
    const v2 = (await store.listDeployments('alice', agentId, { limit: 3 })).items[1]!.id;
    await expectError(await rollback(agentId, { deploymentId: v2 }), 409, 'conflict');
  });

  it('answers a repeated Idempotency-Key with the first answer and starts nothing more', async () => {
    const { agentId, v1 } = await agentWithHistory();
    const headers = { 'Idempotency-Key': `k-${agentId}` };
    const first = await rollback(agentId, { deploymentId: v1 }, alice, headers);
    const before = workflows.rollbacks.length;
    const second = await rollback(agentId, { deploymentId: v1 }, alice, headers);
    expect(second.status).toBe(202);
    expect(await second.json()).toEqual(await first.json());
    expect(workflows.rollbacks.length).toBe(before);
  });

  it('refuses a failed, an unknown, another agent’s or another owner’s deployment, changing nothing', async () => {
    const { agentId, v2, failed } = await agentWithHistory();
    const other = await agentWithHistory();
    const before = workflows.rollbacks.length;
    const failedErr = await expectError(await rollback(agentId, { deploymentId: failed }), 400, 'validation_failed');
    expect(failedErr.message).toContain('only a deployment that reached live');
    await expectError(await rollback(agentId, { deploymentId: newId('dep') }), 404, 'not_found');
    await expectError(await rollback(agentId, { deploymentId: other.v1 }), 404, 'not_found');
    await expectError(await rollback(agentId, { deploymentId: v2 }), 409, 'conflict');
    await expectError(await rollback(agentId, { deploymentId: other.v1 }, bob), 404, 'not_found');
    await expectError(await rollback(agentId, { deploymentId: 'not an id' }), 400, 'validation_failed');
    await expectError(await rollback(agentId, { deploymentId: other.v1, extra: 1 }), 400, 'validation_failed');
    expect(workflows.rollbacks.length).toBe(before);
    expect(await store.getAgent('alice', agentId)).toMatchObject({ activeDeploymentId: v2, rollbackWorkflowId: null });
  });

  it('frees the slot when the workflow cannot be started, and when its workflow ended without freeing it', async () => {
    const { agentId, v1 } = await agentWithHistory();
    workflows.failNextStarts(1);
    await expectError(await rollback(agentId, { deploymentId: v1 }), 500, 'internal');
    expect((await store.getAgent('alice', agentId)).rollbackWorkflowId).toBeNull();

    const stuck = rollbackWorkflowId(agentId, 'dep_terminated');
    await store.beginRollback({ ownerId: 'alice', agentId, workflowId: stuck, now: now() });
    workflows.outcomes.set(stuck, { state: 'ended', how: 'terminated' });
    expect((await rollback(agentId, { deploymentId: v1 })).status).toBe(202);
  });
});
