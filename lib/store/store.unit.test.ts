import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { AppError, type FilesSource } from '../contracts/index.js';
import { newId } from '../ids.js';
import { storeFactories } from '../../test/helpers/stores.js';
import type { Store } from './index.js';

const factories = await storeFactories();
afterAll(async () => {
  for (const f of factories) await f.cleanup();
});

const source: FilesSource = { type: 'files', entry: 'index.js', files: { 'index.js': 'export default {}' } };
const now = () => new Date();
const expectAppError = async (p: Promise<unknown>, code: AppError['code']) => {
  await expect(p).rejects.toBeInstanceOf(AppError);
  await expect(p).rejects.toMatchObject({ code });
};

describe.each(factories)('store on $name', (factory) => {
  let store: Store;
  let alice: string;
  let bob: string;

  beforeEach(async () => {
    store ??= await factory.open();
    alice = newId('usr');
    bob = newId('usr');
    await store.ensureUser(alice, now());
    await store.ensureUser(bob, now());
  });
  afterAll(async () => store?.close());

  const agentOf = (ownerId: string, name = 'agent') => store.createAgent({ id: newId('agt'), ownerId, name, runtime: 'local', now: now() });
  const deploymentOf = (ownerId: string, agentId: string) => {
    const id = newId('dep');
    return store.createDeployment({ id, ownerId, agentId, workflowId: `deploy-${id}`, source, now: now() });
  };
  const toLive = async (ownerId: string, deploymentId: string) => {
    await store.transitionDeployment({ ownerId, deploymentId, to: 'building', now: now() });
    await store.transitionDeployment({ ownerId, deploymentId, to: 'deploying', now: now() });
    await store.recordDeploymentStep({ ownerId, deploymentId, providerRef: `ref-${deploymentId}`, entry: { step: 'create_version', status: 'succeeded', at: now().toISOString() } });
    return store.transitionDeployment({ ownerId, deploymentId, to: 'live', step: 'mark_live', now: now() });
  };

  it('scopes every read and write by owner: another owner’s ids are not found', async () => {
    const agent = await agentOf(alice);
    const dep = await deploymentOf(alice, agent.id);
    await expectAppError(store.getAgent(bob, agent.id), 'not_found');
    await expectAppError(store.renameAgent({ ownerId: bob, agentId: agent.id, name: 'x', now: now() }), 'not_found');
    await expectAppError(store.deleteAgent({ ownerId: bob, agentId: agent.id, now: now() }), 'not_found');
    await expectAppError(store.getDeployment(bob, dep.id), 'not_found');
    await expectAppError(store.getDeploymentSource(bob, dep.id), 'not_found');
    await expectAppError(store.listDeployments(bob, agent.id, { limit: 10 }), 'not_found');
    await expectAppError(store.createDeployment({ id: newId('dep'), ownerId: bob, agentId: agent.id, workflowId: 'w', source, now: now() }), 'not_found');
    await expectAppError(store.transitionDeployment({ ownerId: bob, deploymentId: dep.id, to: 'failed', now: now() }), 'not_found');
    await expectAppError(store.switchActiveDeployment({ ownerId: bob, agentId: agent.id, expected: null, next: dep.id, now: now() }), 'not_found');
    await expectAppError(store.getServingTarget(bob, agent.id), 'not_found');
    expect((await store.listAgents(bob, { limit: 10 })).items).toEqual([]);
    // and nothing of alice's changed
    expect((await store.getDeployment(alice, dep.id)).status).toBe('queued');
  });

  it('refuses a second agent with the same name for one owner, but not for another', async () => {
    await agentOf(alice, 'same');
    await expectAppError(agentOf(alice, 'same'), 'conflict');
    await expect(agentOf(bob, 'same')).resolves.toMatchObject({ name: 'same', ownerId: bob });
  });

  it('numbers deployments per agent and allows only one in flight', async () => {
    const agent = await agentOf(alice);
    const first = await deploymentOf(alice, agent.id);
    expect(first).toMatchObject({ version: 1, status: 'queued', runtime: 'local' });
    await expectAppError(deploymentOf(alice, agent.id), 'conflict');
    await toLive(alice, first.id);
    const second = await deploymentOf(alice, agent.id);
    expect(second.version).toBe(2);
  });

  it('lets exactly one of two concurrent deployment creations win', async () => {
    const agent = await agentOf(alice);
    const results = await Promise.allSettled([deploymentOf(alice, agent.id), deploymentOf(alice, agent.id)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'conflict' } });
  });

  it('never changes a deployment once it is final', async () => {
    const agent = await agentOf(alice);
    const dep = await deploymentOf(alice, agent.id);
    const live = await toLive(alice, dep.id);
    expect(live.finishedAt).not.toBeNull();
    await expectAppError(store.transitionDeployment({ ownerId: alice, deploymentId: dep.id, to: 'failed', now: now() }), 'conflict');
    await expectAppError(
      store.recordDeploymentStep({ ownerId: alice, deploymentId: dep.id, entry: { step: 'compensate', status: 'started', at: now().toISOString() } }),
      'conflict',
    );
    // repeating the transition that happened (an activity retry) is accepted and changes nothing
    const again = await store.transitionDeployment({ ownerId: alice, deploymentId: dep.id, to: 'live', step: 'mark_live', now: now() });
    expect(again).toEqual(live);
  });

  it('refuses transitions that skip the lifecycle', async () => {
    const agent = await agentOf(alice);
    const dep = await deploymentOf(alice, agent.id);
    await expectAppError(store.transitionDeployment({ ownerId: alice, deploymentId: dep.id, to: 'live', now: now() }), 'conflict');
    expect((await store.getDeployment(alice, dep.id)).status).toBe('queued');
  });

  it('switches the serving pointer by compare-and-set: of two concurrent switches exactly one wins', async () => {
    const agent = await agentOf(alice);
    const d1 = await deploymentOf(alice, agent.id);
    await toLive(alice, d1.id);
    const d2 = await deploymentOf(alice, agent.id);
    await toLive(alice, d2.id);
    const results = await Promise.all([
      store.switchActiveDeployment({ ownerId: alice, agentId: agent.id, expected: null, next: d1.id, now: now() }),
      store.switchActiveDeployment({ ownerId: alice, agentId: agent.id, expected: null, next: d2.id, now: now() }),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results[0] ? d1.id : d2.id;
    const target = await store.getServingTarget(alice, agent.id);
    expect(target.deployment).toEqual({ id: winner, runtime: 'local', providerRef: `ref-${winner}` });
    expect(await store.switchActiveDeployment({ ownerId: alice, agentId: agent.id, expected: null, next: d1.id, now: now() })).toBe(false);
  });

  it('tells watchers when what serves an agent changes (on another connection, after commit)', async () => {
    const agent = await agentOf(alice, 'watched');
    const dep = await deploymentOf(alice, agent.id);
    await toLive(alice, dep.id);
    const seen: string[] = [];
    const stop = await store.watchServing((id) => seen.push(id));
    try {
      await store.switchActiveDeployment({ ownerId: alice, agentId: agent.id, expected: null, next: dep.id, now: now() });
      await expect.poll(() => seen).toEqual([agent.id]);
      // a compare-and-set that loses changes nothing and says nothing
      await store.switchActiveDeployment({ ownerId: alice, agentId: agent.id, expected: null, next: dep.id, now: now() });
      await store.deleteAgent({ ownerId: alice, agentId: agent.id, now: now() });
      await expect.poll(() => seen).toEqual([agent.id, agent.id]);
    } finally {
      await stop();
    }
  });

  it('points only at a deployment of the same agent', async () => {
    const a = await agentOf(alice, 'a');
    const b = await agentOf(alice, 'b');
    const dep = await deploymentOf(alice, b.id);
    await expectAppError(store.switchActiveDeployment({ ownerId: alice, agentId: a.id, expected: null, next: dep.id, now: now() }), 'not_found');
  });

  it('pages agents newest first, stable while new agents are inserted', async () => {
    for (let i = 0; i < 5; i++) await agentOf(alice, `agent-${i}`);
    const first = await store.listAgents(alice, { limit: 2 });
    expect(first.items.map((a) => a.name)).toEqual(['agent-4', 'agent-3']);
    await agentOf(alice, 'agent-new');
    const second = await store.listAgents(alice, { limit: 2, cursor: first.nextCursor! });
    const third = await store.listAgents(alice, { limit: 2, cursor: second.nextCursor! });
    expect([...second.items, ...third.items].map((a) => a.name)).toEqual(['agent-2', 'agent-1', 'agent-0']);
    expect(third.nextCursor).toBeNull();
    await expectAppError(store.listAgents(alice, { limit: 2, cursor: 'garbage' }), 'validation_failed');
  });

  it('soft-deletes an agent, frees its name, and refuses while a deploy is in flight', async () => {
    const agent = await agentOf(alice, 'doomed');
    const dep = await deploymentOf(alice, agent.id);
    await expectAppError(store.deleteAgent({ ownerId: alice, agentId: agent.id, now: now() }), 'conflict');
    await store.transitionDeployment({ ownerId: alice, deploymentId: dep.id, to: 'failed', now: now() });
    expect((await store.deleteAgent({ ownerId: alice, agentId: agent.id, now: now() })).status).toBe('deleted');
    await expectAppError(store.getAgent(alice, agent.id), 'not_found');
    await expect(agentOf(alice, 'doomed')).resolves.toMatchObject({ name: 'doomed' });
    // history is kept
    expect((await store.getDeployment(alice, dep.id)).status).toBe('failed');
  });

  it('takes an idempotency key once, even under concurrency, and replays the first answer', async () => {
    const begin = () => store.beginIdempotent({ ownerId: alice, key: 'k1', requestHash: 'h', now: now() });
    const states = (await Promise.all([begin(), begin(), begin()])).map((b) => b.state).sort();
    expect(states).toEqual(['in_progress', 'in_progress', 'new']);
    await store.completeIdempotent({ ownerId: alice, key: 'k1', status: 201, body: { id: 'x' } });
    expect(await begin()).toEqual({ state: 'done', status: 201, body: { id: 'x' } });
    expect(await store.beginIdempotent({ ownerId: alice, key: 'k1', requestHash: 'other', now: now() })).toEqual({ state: 'mismatch' });
    // keys are per owner
    expect(await store.beginIdempotent({ ownerId: bob, key: 'k1', requestHash: 'h', now: now() })).toEqual({ state: 'new' });
    // an abandoned key can be taken again
    await store.abandonIdempotent({ ownerId: bob, key: 'k1' });
    expect(await store.beginIdempotent({ ownerId: bob, key: 'k1', requestHash: 'h', now: now() })).toEqual({ state: 'new' });
  });
});
