// The store contract suite: the same tests for every adapter (architecture.md, Invariants).
// lib/store/sql/sql.unit.test.ts runs it on PGlite and the PostgreSQL server, lib/store/convex/convex.unit.test.ts on Convex (convex-test).
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AppError,
  estimateCostUsd,
  periodBounds,
  periodOf,
  type MeteredRequest,
  SecretMetadata,
  type FilesSource,
  type ShimLogLine,
  type TelemetryEvent,
} from '../../lib/contracts/index.js';
import { newId } from '../../lib/ids.js';
import type { CreateApiKeyInput, CreateWebhookEndpointInput, Store } from '../../lib/store/index.js';

export interface StoreUnderTest {
  name: string;
  open(): Promise<Store>;
  /** Whether the adapter's notifications reach watchers in this harness. */
  notifies: boolean;
}

const source: FilesSource = { type: 'files', entry: 'index.js', files: { 'index.js': 'export default {}' } };
const now = () => new Date();
const expectAppError = async (p: Promise<unknown>, code: AppError['code']) => {
  await expect(p).rejects.toBeInstanceOf(AppError);
  await expect(p).rejects.toMatchObject({ code });
};

export function describeStoreContract(factory: StoreUnderTest) {
  describe(`store contract on ${factory.name}`, () => {
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

    const agentOf = (ownerId: string, name = 'agent') =>
      store.createAgent({ id: newId('agt'), ownerId, name, runtime: 'local', now: now() });
    const deploymentOf = (ownerId: string, agentId: string) => {
      const id = newId('dep');
      return store.createDeployment({ id, ownerId, agentId, workflowId: `deploy-${id}`, source, now: now() });
    };
    const toLive = async (ownerId: string, deploymentId: string) => {
      await store.transitionDeployment({ ownerId, deploymentId, to: 'building', now: now() });
      await store.transitionDeployment({ ownerId, deploymentId, to: 'deploying', now: now() });
      await store.recordDeploymentStep({
        ownerId,
        deploymentId,
        providerRef: `ref-${deploymentId}`,
        entry: { step: 'create_version', status: 'succeeded', at: now().toISOString() },
      });
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
      await expectAppError(
        store.createDeployment({
          id: newId('dep'),
          ownerId: bob,
          agentId: agent.id,
          workflowId: 'w',
          source,
          now: now(),
        }),
        'not_found',
      );
      await expectAppError(
        store.transitionDeployment({ ownerId: bob, deploymentId: dep.id, to: 'failed', now: now() }),
        'not_found',
      );
      await expectAppError(
        store.switchActiveDeployment({ ownerId: bob, agentId: agent.id, expected: null, next: dep.id, now: now() }),
        'not_found',
      );
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
      await expectAppError(
        store.transitionDeployment({ ownerId: alice, deploymentId: dep.id, to: 'failed', now: now() }),
        'conflict',
      );
      await expectAppError(
        store.recordDeploymentStep({
          ownerId: alice,
          deploymentId: dep.id,
          entry: { step: 'compensate', status: 'started', at: now().toISOString() },
        }),
        'conflict',
      );
      // repeating the transition that happened (an activity retry) is accepted and changes nothing
      const again = await store.transitionDeployment({
        ownerId: alice,
        deploymentId: dep.id,
        to: 'live',
        step: 'mark_live',
        now: now(),
      });
      expect(again).toEqual(live);
    });

    it('keeps each kind of source as given, and records what the build found while the deployment is in flight', async () => {
      const agent = await agentOf(alice);
      const sources = [
        { type: 'files' as const, files: { 'package.json': '{"main":"src/index.js"}', 'src/index.js': 'x' } },
        { type: 'git' as const, url: 'https://example.com/a/b.git', ref: 'v1.2.0', path: 'agents/one', entry: 'x.ts' },
        { type: 'git' as const, url: 'file:///srv/repos/a', ref: 'main' },
        { type: 'image' as const, uri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/agent:1' },
      ];
      for (const given of sources) {
        const id = newId('dep');
        const created = await store.createDeployment({
          id,
          ownerId: alice,
          agentId: agent.id,
          workflowId: `deploy-${id}`,
          source: given,
          now: now(),
        });
        expect(created).toMatchObject({ sourceType: given.type, framework: null, commitSha: null });
        expect(await store.getDeploymentSource(alice, id)).toEqual(given);
        await store.transitionDeployment({ ownerId: alice, deploymentId: id, to: 'building', now: now() });
        const sha = 'a'.repeat(40);
        const found = { ownerId: alice, deploymentId: id, framework: 'ai-sdk' as const, commitSha: sha };
        await store.recordDeploymentBuild(found);
        await store.recordDeploymentBuild(found); // a retried build records the same again
        await expectAppError(store.recordDeploymentBuild({ ...found, ownerId: bob }), 'not_found');
        await expectAppError(store.recordDeploymentBuild({ ...found, commitSha: 'main' }), 'validation_failed');
        expect(await store.getDeployment(alice, id)).toMatchObject({ framework: 'ai-sdk', commitSha: sha });
        await store.transitionDeployment({ ownerId: alice, deploymentId: id, to: 'failed', now: now() });
        await expectAppError(store.recordDeploymentBuild({ ...found, framework: 'hono' }), 'conflict');
        expect(await store.getDeployment(alice, id)).toMatchObject({ framework: 'ai-sdk' });
      }
    });

    it('refuses transitions that skip the lifecycle', async () => {
      const agent = await agentOf(alice);
      const dep = await deploymentOf(alice, agent.id);
      await expectAppError(
        store.transitionDeployment({ ownerId: alice, deploymentId: dep.id, to: 'live', now: now() }),
        'conflict',
      );
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
      expect(
        await store.switchActiveDeployment({
          ownerId: alice,
          agentId: agent.id,
          expected: null,
          next: d1.id,
          now: now(),
        }),
      ).toBe(false);
    });

    it.runIf(factory.notifies)(
      'tells watchers when what serves an agent changes (on another connection, after commit)',
      async () => {
        const agent = await agentOf(alice, 'watched');
        const dep = await deploymentOf(alice, agent.id);
        await toLive(alice, dep.id);
        const seen: string[] = [];
        const stop = await store.watchServing((id) => seen.push(id));
        try {
          await store.switchActiveDeployment({
            ownerId: alice,
            agentId: agent.id,
            expected: null,
            next: dep.id,
            now: now(),
          });
          await expect.poll(() => seen).toEqual([agent.id]);
          // a compare-and-set that loses changes nothing and says nothing
          await store.switchActiveDeployment({
            ownerId: alice,
            agentId: agent.id,
            expected: null,
            next: dep.id,
            now: now(),
          });
          await store.deleteAgent({ ownerId: alice, agentId: agent.id, now: now() });
          await expect.poll(() => seen).toEqual([agent.id, agent.id]);
        } finally {
          await stop();
        }
      },
    );

    it('points only at a deployment of the same agent', async () => {
      const a = await agentOf(alice, 'a');
      const b = await agentOf(alice, 'b');
      const dep = await deploymentOf(alice, b.id);
      await expectAppError(
        store.switchActiveDeployment({ ownerId: alice, agentId: a.id, expected: null, next: dep.id, now: now() }),
        'not_found',
      );
    });

    it('finds whose a deployment is by its id alone, for callers holding the deployment’s key', async () => {
      const agent = await agentOf(alice);
      const dep = await deploymentOf(alice, agent.id);
      expect(await store.findDeploymentOwner(dep.id)).toEqual({
        deploymentId: dep.id,
        ownerId: alice,
        agentId: agent.id,
        runtime: 'local',
      });
      expect(await store.findDeploymentOwner(newId('dep'))).toBeNull();
      await expectAppError(store.findDeploymentOwner('not an id'), 'validation_failed');
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

    it('restores a deleted agent, serving what it served, unless its name was taken', async () => {
      const agent = await agentOf(alice, 'comeback');
      const dep = await deploymentOf(alice, agent.id);
      await toLive(alice, dep.id);
      await store.switchActiveDeployment({
        ownerId: alice,
        agentId: agent.id,
        expected: null,
        next: dep.id,
        now: now(),
      });
      await store.deleteAgent({ ownerId: alice, agentId: agent.id, now: now() });
      await expectAppError(store.restoreAgent({ ownerId: bob, agentId: agent.id, now: now() }), 'not_found');
      const restored = await store.restoreAgent({ ownerId: alice, agentId: agent.id, now: now() });
      expect(restored).toMatchObject({ id: agent.id, status: 'active', activeDeploymentId: dep.id });
      expect((await store.getServingTarget(alice, agent.id)).deployment?.id).toBe(dep.id);
      // an active agent has nothing to restore
      await expectAppError(store.restoreAgent({ ownerId: alice, agentId: agent.id, now: now() }), 'not_found');
      await store.deleteAgent({ ownerId: alice, agentId: agent.id, now: now() });
      await agentOf(alice, 'comeback');
      await expectAppError(store.restoreAgent({ ownerId: alice, agentId: agent.id, now: now() }), 'conflict');
    });

    it('takes an idempotency key once, even under concurrency, and replays the first answer', async () => {
      const begin = () => store.beginIdempotent({ ownerId: alice, key: 'k1', requestHash: 'h', now: now() });
      const states = (await Promise.all([begin(), begin(), begin()])).map((b) => b.state).sort();
      expect(states).toEqual(['in_progress', 'in_progress', 'new']);
      await store.completeIdempotent({ ownerId: alice, key: 'k1', status: 201, body: { id: 'x' } });
      expect(await begin()).toEqual({ state: 'done', status: 201, body: { id: 'x' } });
      expect(await store.beginIdempotent({ ownerId: alice, key: 'k1', requestHash: 'other', now: now() })).toEqual({
        state: 'mismatch',
      });
      // keys are per owner
      expect(await store.beginIdempotent({ ownerId: bob, key: 'k1', requestHash: 'h', now: now() })).toEqual({
        state: 'new',
      });
      // an abandoned key can be taken again
      await store.abandonIdempotent({ ownerId: bob, key: 'k1' });
      expect(await store.beginIdempotent({ ownerId: bob, key: 'k1', requestHash: 'h', now: now() })).toEqual({
        state: 'new',
      });
    });

    it('takes an idempotency key exactly once when many requests race for it', async () => {
      const key = newId('req');
      const results = await Promise.all(
        Array.from({ length: 8 }, () => store.beginIdempotent({ ownerId: alice, key, requestHash: 'h', now: now() })),
      );
      expect(results.filter((r) => r.state === 'new')).toHaveLength(1);
    });

    it('holds an idempotency key for 24 hours, then takes it anew', async () => {
      const key = newId('req');
      const day = 24 * 3_600_000;
      const start = new Date('2026-11-01T00:00:00.000Z');
      const at = (ms: number) => new Date(start.getTime() + ms);
      await store.beginIdempotent({ ownerId: alice, key, requestHash: 'h1', now: start });
      await store.completeIdempotent({ ownerId: alice, key, status: 200, body: { n: 1 } });
      expect(
        await store.beginIdempotent({ ownerId: alice, key, requestHash: 'h1', now: at(day - 1000) }),
      ).toMatchObject({
        state: 'done',
        body: { n: 1 },
      });
      expect(await store.beginIdempotent({ ownerId: alice, key, requestHash: 'h2', now: at(day - 1000) })).toEqual({
        state: 'mismatch',
      });
      // a day later the key is free, whatever it answered before, and holds the new request
      expect(await store.beginIdempotent({ ownerId: alice, key, requestHash: 'h2', now: at(day + 1000) })).toEqual({
        state: 'new',
      });
      expect(await store.beginIdempotent({ ownerId: alice, key, requestHash: 'h2', now: at(day + 2000) })).toEqual({
        state: 'in_progress',
      });
    });

    // ── users ────────────────────────────────────────────────────────────────────────
    it('starts a user on the tier it is first seen with, and keeps its add-ons', async () => {
      const carol = newId('usr');
      await store.ensureUser(carol, now(), 'pro');
      await store.ensureUser(carol, now(), 'free'); // first sight only
      expect(await store.getUser(carol)).toMatchObject({ tier: 'pro', addOns: [] });
      expect(
        (await store.setUserAddOns({ userId: carol, addOns: ['agentcore', 'agentcore'], now: now() })).addOns,
      ).toEqual(['agentcore']);
      expect((await store.getUser(carol)).addOns).toEqual(['agentcore']);
      await expectAppError(store.setUserAddOns({ userId: newId('usr'), addOns: [], now: now() }), 'not_found');
    });

    it('a downgrade pauses the agents past the tier, newest first, and an upgrade resumes them; one audited transaction', async () => {
      await store.setUserTier({ userId: alice, tier: 'pro', now: now() });
      const a = await agentOf(alice, 'a');
      const b = await agentOf(alice, 'b');
      const c = await agentOf(alice, 'c');
      const audit = { actor: 'test', action: 'user.plan_changed', targetType: 'user', targetId: alice };
      const down = await store.changeUserPlan({ userId: alice, tier: 'free', now: now(), audit });
      expect(down).toMatchObject({ applied: true, changed: true, user: { tier: 'free' }, resumed: [] });
      expect(down.paused.sort()).toEqual([b.id, c.id].sort());
      expect((await store.getAgent(alice, a.id)).pausedAt).toBeNull();
      for (const id of [b.id, c.id]) {
        const paused = await store.getAgent(alice, id); // paused, not deleted
        expect(paused).toMatchObject({ status: 'active' });
        expect(paused.pausedAt).not.toBeNull();
        expect((await store.getServingTarget(alice, id)).agent.pausedAt).not.toBeNull();
      }
      const entries = (await store.listAudit(alice, { limit: 10 })).items;
      expect(entries.map((e) => e.action).sort()).toEqual(['agent.paused', 'agent.paused', 'user.plan_changed']);
      expect(entries.find((e) => e.action === 'user.plan_changed')?.details).toMatchObject({ resumed: [] });

      // the same change again writes nothing
      const repeat = await store.changeUserPlan({ userId: alice, tier: 'free', now: now(), audit });
      expect(repeat).toMatchObject({ applied: true, changed: false, paused: [], resumed: [] });
      expect((await store.listAudit(alice, { limit: 10 })).items).toHaveLength(3);

      // starter allows 5: both come back
      const up = await store.changeUserPlan({ userId: alice, tier: 'starter', now: now(), audit });
      expect(up.resumed.sort()).toEqual([b.id, c.id].sort());
      for (const id of [a.id, b.id, c.id]) expect((await store.getAgent(alice, id)).pausedAt).toBeNull();
      // the operator's plain tier change pauses too
      await store.setUserTier({ userId: alice, tier: 'free', now: now() });
      expect((await store.getAgent(alice, a.id)).pausedAt).toBeNull();
      expect((await store.getAgent(alice, c.id)).pausedAt).not.toBeNull();
    });

    it('pauses agents on a runtime the plan no longer opens (the AgentCore add-on removed)', async () => {
      await store.changeUserPlan({ userId: alice, tier: 'pro', addOns: ['agentcore'], now: now() });
      const core = await store.createAgent({
        id: newId('agt'),
        ownerId: alice,
        name: 'core',
        runtime: 'agentcore',
        now: now(),
      });
      const plain = await agentOf(alice, 'plain');
      expect(await store.changeUserPlan({ userId: alice, addOns: [], now: now() })).toMatchObject({
        paused: [core.id],
      });
      expect((await store.getAgent(alice, plain.id)).pausedAt).toBeNull();
      expect(await store.changeUserPlan({ userId: alice, tier: 'enterprise', now: now() })).toMatchObject({
        resumed: [core.id],
      });
    });

    it('keeps a grace period end, and applies a change conditional on it only while it still holds', async () => {
      const endsAt = new Date(Date.now() + 3_600_000).toISOString();
      const opened = await store.changeUserPlan({
        userId: alice,
        tier: 'pro',
        billing: { status: 'past_due', graceEndsAt: endsAt, subscriptionId: 'sub_9' },
        now: now(),
      });
      expect(opened.user.billing).toMatchObject({ status: 'past_due', graceEndsAt: endsAt, subscriptionId: 'sub_9' });
      expect((await store.getUser(alice)).billing.graceEndsAt).toBe(endsAt);
      const other = new Date(Date.now() + 7_200_000).toISOString();
      const refused = await store.changeUserPlan({ userId: alice, tier: 'free', ifGraceEndsAt: other, now: now() });
      expect(refused).toMatchObject({ applied: false, changed: false, user: { tier: 'pro' } });
      const ended = await store.changeUserPlan({
        userId: alice,
        tier: 'free',
        billing: { graceEndsAt: null, status: 'unpaid' },
        ifGraceEndsAt: endsAt,
        now: now(),
      });
      expect(ended).toMatchObject({ applied: true, user: { tier: 'free', billing: { graceEndsAt: null } } });
      // a second end of the same grace period finds it gone
      expect(
        await store.changeUserPlan({ userId: alice, tier: 'free', ifGraceEndsAt: endsAt, now: now() }),
      ).toMatchObject({ applied: false });
      // null: only while no grace period runs (two failed payments open one)
      const open = (graceEndsAt: string) =>
        store.changeUserPlan({ userId: alice, billing: { graceEndsAt }, ifGraceEndsAt: null, now: now() });
      expect(await open(endsAt)).toMatchObject({ applied: true });
      expect(await open(other)).toMatchObject({ applied: false, user: { billing: { graceEndsAt: endsAt } } });
      await expectAppError(store.changeUserPlan({ userId: newId('usr'), tier: 'free', now: now() }), 'not_found');
    });

    it('holds an owner to its most agents, also under concurrent creates, counting active ones only', async () => {
      const results = await Promise.allSettled(
        ['a', 'b', 'c', 'd'].map((name) =>
          store.createAgent({ id: newId('agt'), ownerId: alice, name, runtime: 'local', now: now(), maxAgents: 2 }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
      for (const r of results.filter((r) => r.status === 'rejected'))
        expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'entitlement_required' });
      const [first] = (await store.listAgents(alice, { limit: 10 })).items;
      await store.deleteAgent({ ownerId: alice, agentId: first!.id, now: now() });
      await store.createAgent({
        id: newId('agt'),
        ownerId: alice,
        name: 'e',
        runtime: 'local',
        now: now(),
        maxAgents: 2,
      });
      // another owner's agents do not count
      await store.createAgent({
        id: newId('agt'),
        ownerId: bob,
        name: 'a',
        runtime: 'local',
        now: now(),
        maxAgents: 1,
      });
    });

    it('keeps a user’s tier and billing ids', async () => {
      expect(await store.getUser(alice)).toMatchObject({
        id: alice,
        tier: 'free',
        addOns: [],
        defaultRuntime: 'local',
        billing: { customerId: null, subscriptionId: null, subscriptionItemId: null, status: null },
      });
      await store.setUserTier({ userId: alice, tier: 'pro', now: now() });
      const user = await store.setUserBilling({
        userId: alice,
        billing: { customerId: 'cus_1', status: 'active' },
        now: now(),
      });
      expect(user).toMatchObject({
        tier: 'pro',
        billing: { customerId: 'cus_1', subscriptionId: null, status: 'active' },
      });
      const again = await store.setUserBilling({ userId: alice, billing: { subscriptionId: 'sub_1' }, now: now() });
      expect(again.billing).toEqual({
        customerId: 'cus_1',
        subscriptionId: 'sub_1',
        subscriptionItemId: null,
        status: 'active',
        graceEndsAt: null,
      });
      await expectAppError(store.getUser(newId('usr')), 'not_found');
      // ensureUser never resets what is there
      await store.ensureUser(alice, now());
      expect((await store.getUser(alice)).tier).toBe('pro');
    });

    // ── secret metadata ──────────────────────────────────────────────────────────────
    it('keeps secret names and versions, never a value, scoped by owner', async () => {
      const agent = await agentOf(alice);
      const ref = { ownerId: alice, agentId: agent.id, name: 'OPENAI_API_KEY' };
      expect(await store.secretVersion(alice, agent.id, 'OPENAI_API_KEY')).toBe(0);
      const first = await store.recordSecretVersion({ ...ref, version: 1, deleted: false, now: now() });
      const second = await store.recordSecretVersion({ ...ref, version: 2, deleted: false, now: now() });
      expect([first.version, second.version]).toEqual([1, 2]);
      // a repeat, and a late retry of an older change, leave the newest version in place
      expect((await store.recordSecretVersion({ ...ref, version: 2, deleted: false, now: now() })).version).toBe(2);
      expect((await store.recordSecretVersion({ ...ref, version: 1, deleted: true, now: now() })).version).toBe(2);
      const listed = await store.listSecretMetadata(alice, agent.id);
      expect(listed.map((m) => [m.name, m.version])).toEqual([['OPENAI_API_KEY', 2]]);
      // exactly these fields: there is nowhere a value could be
      for (const m of [first, second, ...listed])
        expect(Object.keys(SecretMetadata.parse(m)).sort()).toEqual(Object.keys(m).sort());
      expect(Object.keys(listed[0]!).sort()).toEqual(['agentId', 'name', 'updatedAt', 'version']);
      await expectAppError(store.secretVersion(bob, agent.id, 'OPENAI_API_KEY'), 'not_found');
      await expectAppError(
        store.recordSecretVersion({ ...ref, ownerId: bob, version: 3, deleted: false, now: now() }),
        'not_found',
      );
      await expectAppError(store.listSecretMetadata(bob, agent.id), 'not_found');
    });

    it('keeps a deleted secret as a tombstone, so its version keeps growing when set again', async () => {
      const agent = await agentOf(alice);
      const ref = { ownerId: alice, agentId: agent.id, name: 'TOKEN' };
      await store.recordSecretVersion({ ...ref, version: 1, deleted: false, now: now() });
      await store.recordSecretVersion({ ...ref, version: 2, deleted: true, now: now() });
      expect(await store.listSecretMetadata(alice, agent.id)).toEqual([]);
      expect(await store.secretVersion(alice, agent.id, 'TOKEN')).toBe(2);
      await store.recordSecretVersion({ ...ref, version: 3, deleted: false, now: now() });
      expect((await store.listSecretMetadata(alice, agent.id)).map((m) => m.version)).toEqual([3]);
    });

    it('forgets every secret of an agent being torn down, also once it is deleted; only its owner can', async () => {
      const agent = await agentOf(alice);
      for (const name of ['A', 'B'])
        await store.recordSecretVersion({
          ownerId: alice,
          agentId: agent.id,
          name,
          version: 1,
          deleted: false,
          now: now(),
        });
      expect(await store.forgetSecrets({ ownerId: bob, agentId: agent.id, now: now() })).toBe(0);
      await store.deleteAgent({ ownerId: alice, agentId: agent.id, now: now() });
      expect(await store.forgetSecrets({ ownerId: alice, agentId: agent.id, now: now() })).toBe(2);
      expect(await store.forgetSecrets({ ownerId: alice, agentId: agent.id, now: now() })).toBe(0);
      await store.restoreAgent({ ownerId: alice, agentId: agent.id, now: now() });
      expect(await store.listSecretMetadata(alice, agent.id)).toEqual([]);
    });

    // ── rollback slot ────────────────────────────────────────────────────────────────
    it('gives an agent one in-flight slot shared by deploys and rollbacks', async () => {
      const agent = await agentOf(alice);
      const slot = { ownerId: alice, agentId: agent.id, now: now() };
      const held = await store.beginRollback({ ...slot, workflowId: 'rollback-a' });
      expect(held.rollbackWorkflowId).toBe('rollback-a');
      // the same workflow again is success (an activity retry); another is refused
      await store.beginRollback({ ...slot, workflowId: 'rollback-a' });
      await expectAppError(store.beginRollback({ ...slot, workflowId: 'rollback-b' }), 'conflict');
      await expectAppError(deploymentOf(alice, agent.id), 'conflict');
      await expectAppError(store.deleteAgent(slot), 'conflict');
      await expectAppError(store.beginRollback({ ...slot, ownerId: bob, workflowId: 'rollback-a' }), 'not_found');
      // only its holder frees it
      await store.endRollback({ ...slot, workflowId: 'rollback-b' });
      expect((await store.getAgent(alice, agent.id)).rollbackWorkflowId).toBe('rollback-a');
      await store.endRollback({ ...slot, workflowId: 'rollback-a' });
      await store.endRollback({ ...slot, workflowId: 'rollback-a' });
      const dep = await deploymentOf(alice, agent.id);
      await expectAppError(store.beginRollback({ ...slot, workflowId: 'rollback-c' }), 'conflict');
      await store.transitionDeployment({ ownerId: alice, deploymentId: dep.id, to: 'failed', now: now() });
      await store.beginRollback({ ...slot, workflowId: 'rollback-c' });
    });

    it('lets exactly one of two concurrent rollbacks take the slot', async () => {
      const agent = await agentOf(alice);
      const results = await Promise.allSettled(
        ['rollback-x', 'rollback-y'].map((workflowId) =>
          store.beginRollback({ ownerId: alice, agentId: agent.id, workflowId, now: now() }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    });

    it('finds an agent after it was deleted, for its owner only; moves an agent to another runtime', async () => {
      const agent = await agentOf(alice);
      const moved = await store.setAgentRuntime({
        ownerId: alice,
        agentId: agent.id,
        runtime: 'cloudflare',
        now: now(),
      });
      expect(moved.runtime).toBe('cloudflare');
      await expectAppError(
        store.setAgentRuntime({ ownerId: bob, agentId: agent.id, runtime: 'local', now: now() }),
        'not_found',
      );
      await store.deleteAgent({ ownerId: alice, agentId: agent.id, now: now() });
      expect(await store.findAgent(alice, agent.id)).toMatchObject({ id: agent.id, status: 'deleted' });
      await expectAppError(store.findAgent(bob, agent.id), 'not_found');
      await expectAppError(store.findAgent(alice, newId('agt')), 'not_found');
    });

    // ── API keys ─────────────────────────────────────────────────────────────────────
    const keyOf = (ownerId: string, over: Partial<CreateApiKeyInput> = {}) => {
      const id = newId('key');
      return store.createApiKey({
        id,
        ownerId,
        name: 'ci',
        prefix: 'whk_ab12cd34',
        hash: `h-${id}`,
        agentId: null,
        actor: `user:${ownerId}`,
        maxActive: 50,
        now: now(),
        ...over,
      });
    };
    const auditOf = async (ownerId: string) =>
      (await store.listAudit(ownerId, { limit: 100 })).items
        .filter((e) => e.targetType === 'api_key')
        .map((e) => [e.action, e.targetId, e.actor]);

    it('stores API keys as hash and prefix, finds them by hash until revoked, auditing each change', async () => {
      const id = newId('key');
      const hash = `h-${id}`;
      const key = await keyOf(alice, { id, hash });
      expect(key).toMatchObject({
        id,
        ownerId: alice,
        name: 'ci',
        prefix: 'whk_ab12cd34',
        agentId: null,
        revokedAt: null,
      });
      expect(JSON.stringify(key)).not.toContain(hash);
      expect(JSON.stringify(await store.listApiKeys(alice))).not.toContain(hash);
      expect(await store.findApiKeyByHash(hash)).toEqual({ id, ownerId: alice, agentId: null });
      expect(await store.listApiKeys(bob)).toEqual([]);
      await expectAppError(store.revokeApiKey({ ownerId: bob, id, actor: `user:${bob}`, now: now() }), 'not_found');
      const revoked = await store.revokeApiKey({ ownerId: alice, id, actor: `user:${alice}`, now: now() });
      expect(revoked.revokedAt).not.toBeNull();
      expect(await store.findApiKeyByHash(hash)).toBeNull();
      // again: nothing changes, not even the audit log
      const again = await store.revokeApiKey({
        ownerId: alice,
        id,
        actor: `user:${alice}`,
        now: new Date(Date.now() + 5000),
      });
      expect(again.revokedAt).toBe(revoked.revokedAt);
      expect(await auditOf(alice)).toEqual([
        ['api_key.revoked', id, `user:${alice}`],
        ['api_key.created', id, `user:${alice}`],
      ]);
      expect(await auditOf(bob)).toEqual([]);
    });

    it('binds an API key to one of the owner’s agents, and only to one of theirs', async () => {
      const agent = await agentOf(alice, 'bound');
      const theirs = await agentOf(bob, 'theirs');
      const key = await keyOf(alice, { agentId: agent.id });
      expect(key.agentId).toBe(agent.id);
      expect((await store.listApiKeys(alice))[0]!.agentId).toBe(agent.id);
      expect(await store.findApiKeyByHash(`h-${key.id}`)).toEqual({ id: key.id, ownerId: alice, agentId: agent.id });
      await expectAppError(keyOf(alice, { agentId: theirs.id }), 'not_found');
      await expectAppError(keyOf(alice, { agentId: newId('agt') }), 'not_found');
      await store.deleteAgent({ ownerId: alice, agentId: agent.id, now: now() });
      await expectAppError(keyOf(alice, { agentId: agent.id }), 'not_found');
      expect((await store.listApiKeys(alice)).length).toBe(1);
    });

    it('refuses an API key past the owner’s limit of unrevoked keys, until one is revoked', async () => {
      const first = await keyOf(alice, { maxActive: 2 });
      await keyOf(alice, { maxActive: 2 });
      await expectAppError(keyOf(alice, { maxActive: 2 }), 'conflict');
      await keyOf(bob, { maxActive: 2 }); // per owner
      await store.revokeApiKey({ ownerId: alice, id: first.id, actor: `user:${alice}`, now: now() });
      await keyOf(alice, { maxActive: 2 });
      expect((await store.listApiKeys(alice)).map((k) => k.revokedAt === null)).toEqual([false, true, true]);
      // concurrent creates cannot pass the limit together
      const results = await Promise.allSettled([keyOf(bob, { maxActive: 2 }), keyOf(bob, { maxActive: 2 })]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    });

    // ── telemetry and usage ──────────────────────────────────────────────────────────
    /** A shim event (signed telemetry). */
    const event = (at: string, over: Partial<TelemetryEvent> = {}): TelemetryEvent => ({
      id: newId('req'),
      at,
      kind: 'invocation',
      ok: true,
      computeMs: 5,
      ...over,
    });
    const liveAgent = async (ownerId: string) => {
      const agent = await agentOf(ownerId, `t-${newId('agt').slice(-8)}`);
      const dep = await deploymentOf(ownerId, agent.id);
      await toLive(ownerId, dep.id);
      return { ownerId, agentId: agent.id, deploymentId: dep.id };
    };
    /** A request the gateway metered. */
    const request = (
      a: { ownerId: string; agentId: string; deploymentId: string },
      at: string,
      over: Partial<MeteredRequest> = {},
    ): MeteredRequest => ({
      id: newId('req'),
      at,
      ...a,
      runtime: 'local',
      status: 200,
      durationMs: 10,
      inputBytes: 100,
      outputBytes: 200,
      inputTokens: 3,
      outputTokens: 7,
      sessionId: 'ses_1',
      endUser: null,
      apiKeyId: null,
      ...over,
    });

    it('counts each event once, from both sources, even when batches are redelivered concurrently', async () => {
      const a = await liveAgent(alice);
      const requests = [
        request(a, '2026-11-03T10:15:00.000Z'),
        request(a, '2026-11-03T10:45:00.000Z', { status: 500, durationMs: 30 }),
        request(a, '2026-11-03T11:05:00.000Z', { endUser: 'customer-42' }),
      ];
      const telemetry = [
        event('2026-11-03T10:15:00.100Z', { computeMs: 4, inputTokens: 3, outputTokens: 7 }), // the gateway counts these tokens
        event('2026-11-03T10:45:00.100Z', { ok: false, computeMs: 6 }), // the gateway counts this error
        event('2026-11-03T11:30:00.000Z', {
          kind: 'background',
          ok: false,
          computeMs: 20,
          inputTokens: 50,
          outputTokens: 5,
        }),
      ];
      const results = await Promise.all([
        ...[1, 2, 3].map(() => store.recordRequests(requests)),
        ...[1, 2, 3].map(() => store.ingestTelemetry({ ...a, events: telemetry })),
      ]);
      expect(results.reduce((n, r) => n + r.accepted, 0)).toBe(6);
      expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(12);
      const hourly = await store.listHourlyMetrics({
        ownerId: alice,
        agentId: a.agentId,
        from: new Date('2026-11-03T00:00:00Z'),
        to: new Date('2026-11-04T00:00:00Z'),
      });
      const totals = { inputBytes: 0, outputBytes: 0, inputTokens: 0, outputTokens: 0 };
      expect(hourly).toEqual([
        {
          ...totals,
          agentId: a.agentId,
          runtime: 'local',
          hour: '2026-11-03T10:00:00.000Z',
          requests: 2,
          errors: 1,
          durationMs: 40,
          computeMs: 10,
          inputBytes: 200,
          outputBytes: 400,
          inputTokens: 6,
          outputTokens: 14,
        },
        {
          ...totals,
          agentId: a.agentId,
          runtime: 'local',
          hour: '2026-11-03T11:00:00.000Z',
          requests: 1,
          errors: 1,
          durationMs: 10,
          computeMs: 20,
          inputBytes: 100,
          outputBytes: 200,
          inputTokens: 53,
          outputTokens: 12,
        },
      ]);
      expect(await store.getUsage({ ownerId: alice, period: '2026-11' })).toEqual([
        {
          ownerId: alice,
          period: '2026-11',
          runtime: 'local',
          requests: 3,
          errors: 2,
          durationMs: 50,
          computeMs: 30,
          inputBytes: 300,
          outputBytes: 600,
          inputTokens: 59,
          outputTokens: 26,
        },
      ]);
      expect(await store.getUsageByEndUser({ ownerId: alice, period: '2026-11', limit: 10 })).toEqual([
        { endUser: 'customer-42', requests: 1, errors: 0, inputTokens: 3, outputTokens: 7 },
      ]);
    });

    it('scopes event ids to their deployment: another tenant reusing an id does not swallow events', async () => {
      const mine = await liveAgent(alice);
      const theirs = await liveAgent(bob);
      const shared = newId('req');
      expect(await store.recordRequests([request(theirs, '2026-11-07T00:00:00.000Z', { id: shared })])).toEqual({
        accepted: 1,
        duplicates: 0,
      });
      expect(await store.recordRequests([request(mine, '2026-11-07T00:00:00.000Z', { id: shared })])).toEqual({
        accepted: 1,
        duplicates: 0,
      });
      expect((await store.getUsage({ ownerId: alice, period: '2026-11' }))[0]?.requests).toBe(1);
    });

    it('keeps period totals reproducible from hourly metrics, by runtime and by agent', async () => {
      const first = await liveAgent(alice);
      const second = await liveAgent(alice);
      const requests: MeteredRequest[] = [];
      for (let i = 0; i < 60; i++)
        requests.push(
          request(first, new Date(Date.UTC(2026, 9, 31, 20) + i * 17 * 60_000).toISOString(), {
            durationMs: i,
            status: i % 7 === 0 ? 502 : 200,
            endUser: `u${i % 3}`,
          }),
        );
      const seconds = requests
        .slice(0, 10)
        .map((r) => ({ ...r, ...second, id: newId('req'), runtime: 'cloudflare' as const }));
      await store.recordRequests([...requests, ...seconds]);
      for (const period of ['2026-10', '2026-11']) {
        const { start: from, end: to } = periodBounds(period);
        const hourly = [
          ...(await store.listHourlyMetrics({ ownerId: alice, agentId: first.agentId, from, to })),
          ...(await store.listHourlyMetrics({ ownerId: alice, agentId: second.agentId, from, to })),
        ];
        const sum = (k: 'requests' | 'errors' | 'durationMs', runtime?: string) =>
          hourly.filter((h) => !runtime || h.runtime === runtime).reduce((n, h) => n + h[k], 0);
        const usage = await store.getUsage({ ownerId: alice, period });
        const expected = [...requests, ...seconds].filter((e) => periodOf(new Date(e.at)) === period);
        expect(usage.reduce((n, u) => n + u.requests, 0)).toBe(expected.length);
        for (const u of usage)
          expect(u).toMatchObject({
            requests: sum('requests', u.runtime),
            errors: sum('errors', u.runtime),
            durationMs: sum('durationMs', u.runtime),
          });
        const byAgent = await store.getUsageByAgent({ ownerId: alice, period });
        expect(byAgent.reduce((n, x) => n + x.requests, 0)).toBe(sum('requests'));
        expect(byAgent.find((x) => x.agentId === first.agentId)?.requests).toBe(
          expected.filter((e) => e.agentId === first.agentId).length,
        );
        const byEndUser = await store.getUsageByEndUser({ ownerId: alice, period, limit: 2 });
        expect(byEndUser.length).toBeLessThanOrEqual(2);
        const all = await store.getUsageByEndUser({ ownerId: alice, period, limit: 10 });
        expect(all.reduce((n, x) => n + x.requests, 0)).toBe(expected.length);
        expect(all.map((x) => x.requests)).toEqual([...all.map((x) => x.requests)].sort((x, y) => y - x));
      }
      // another owner sees none of it
      expect(await store.getUsageByAgent({ ownerId: bob, period: '2026-11' })).toEqual([]);
      expect(await store.getUsageByEndUser({ ownerId: bob, period: '2026-11', limit: 10 })).toEqual([]);
    });

    it('refuses a telemetry batch that does not match its deployment, agent and owner, storing nothing', async () => {
      const a = await liveAgent(alice);
      const b = await liveAgent(alice);
      const batch = [event('2026-11-05T00:00:00.000Z')];
      await expectAppError(
        store.ingestTelemetry({ ownerId: bob, agentId: a.agentId, deploymentId: a.deploymentId, events: batch }),
        'not_found',
      );
      await expectAppError(
        store.ingestTelemetry({ ownerId: alice, agentId: a.agentId, deploymentId: b.deploymentId, events: batch }),
        'not_found',
      );
      await expectAppError(
        store.ingestTelemetry({
          ownerId: alice,
          agentId: a.agentId,
          deploymentId: a.deploymentId,
          events: [...batch, { ...batch[0]!, id: '', computeMs: -1 }],
        }),
        'validation_failed',
      );
      expect((await store.listUsageEvents({ ownerId: alice, agentId: a.agentId, limit: 10 })).items).toEqual([]);
      expect(
        await store.listHourlyMetrics({
          ownerId: alice,
          agentId: a.agentId,
          from: new Date(0),
          to: new Date('2100-01-01'),
        }),
      ).toEqual([]);
    });

    it('lists raw events newest first, scoped by owner', async () => {
      const a = await liveAgent(alice);
      const events = [0, 1, 2].map((i) => request(a, `2026-11-06T00:0${i}:00.000Z`, { endUser: 'e1' }));
      await store.recordRequests(events);
      const page1 = await store.listUsageEvents({ ownerId: alice, agentId: a.agentId, limit: 2 });
      expect(page1.items.map((e) => e.id)).toEqual([events[2]!.id, events[1]!.id]);
      expect(page1.items[0]).toMatchObject({
        agentId: a.agentId,
        deploymentId: a.deploymentId,
        kind: 'request',
        ok: true,
        status: 200,
        durationMs: 10,
        inputTokens: 3,
        sessionId: 'ses_1',
        endUser: 'e1',
      });
      const page2 = await store.listUsageEvents({
        ownerId: alice,
        agentId: a.agentId,
        limit: 2,
        cursor: page1.nextCursor!,
      });
      expect(page2.items.map((e) => e.id)).toEqual([events[0]!.id]);
      await expectAppError(store.listUsageEvents({ ownerId: bob, agentId: a.agentId, limit: 2 }), 'not_found');
    });

    it('leases requests within the tier’s monthly limit, however many gateways race for them', async () => {
      await store.setUserTier({ userId: alice, tier: 'free', now: now() }); // 10,000 a period
      const leases = await Promise.all(
        Array.from({ length: 12 }, () => store.leaseRequests({ ownerId: alice, period: '2026-11', want: 1000 })),
      );
      expect(leases.reduce((n, l) => n + l.granted, 0)).toBe(10_000);
      expect(leases.every((l) => l.limit === 10_000)).toBe(true);
      expect(await store.leaseRequests({ ownerId: alice, period: '2026-11', want: 1 })).toEqual({
        granted: 0,
        limit: 10_000,
        leased: 10_000,
      });
      // unused requests given back can be leased again; a new period starts from zero
      await store.releaseRequests({ ownerId: alice, period: '2026-11', count: 300 });
      expect((await store.leaseRequests({ ownerId: alice, period: '2026-11', want: 1000 })).granted).toBe(300);
      expect((await store.leaseRequests({ ownerId: alice, period: '2026-12', want: 1000 })).granted).toBe(1000);
      // a higher tier raises the limit at once; enterprise has none
      await store.setUserTier({ userId: alice, tier: 'starter', now: now() });
      expect((await store.leaseRequests({ ownerId: alice, period: '2026-11', want: 1000 })).granted).toBe(1000);
      await store.setUserTier({ userId: bob, tier: 'enterprise', now: now() });
      expect(await store.leaseRequests({ ownerId: bob, period: '2026-11', want: 500 })).toMatchObject({
        granted: 500,
        limit: null,
      });
      await expectAppError(store.leaseRequests({ ownerId: newId('usr'), period: '2026-11', want: 1 }), 'not_found');
    });

    it('retention deletes exactly the events older than the cutoff for the tier, in batches', async () => {
      const tier = 'starter';
      await store.setUserTier({ userId: alice, tier, now: now() });
      await store.setUserTier({ userId: bob, tier: 'enterprise', now: now() });
      const mine = await liveAgent(alice);
      const theirs = await liveAgent(bob);
      const cutoff = new Date('2026-10-15T00:00:00.000Z');
      const old = Array.from({ length: 25 }, (_, i) =>
        event(new Date(cutoff.getTime() - (i + 1) * 3_600_000).toISOString()),
      );
      const atCutoff = event(cutoff.toISOString());
      const recent = Array.from({ length: 5 }, (_, i) =>
        event(new Date(cutoff.getTime() + (i + 1) * 60_000).toISOString()),
      );
      await store.ingestTelemetry({ ...mine, events: [...old, atCutoff, ...recent] });
      await store.ingestTelemetry({ ...theirs, events: old.map((e) => ({ ...e, id: newId('req') })) });
      const usageBefore = await store.getUsage({ ownerId: alice, period: '2026-10' });

      const deleted: number[] = [];
      for (;;) {
        const { deleted: n } = await store.deleteTelemetryBefore({ tier, cutoff, limit: 10 });
        deleted.push(n);
        if (n < 10) break;
      }
      // other owners of this tier may have old events too; ours are gone in batches of at most 10
      expect(deleted.every((n) => n <= 10)).toBe(true);
      const left = (await store.listUsageEvents({ ownerId: alice, agentId: mine.agentId, limit: 100 })).items
        .map((e) => e.id)
        .sort();
      expect(left).toEqual([atCutoff, ...recent].map((e) => e.id).sort());
      // another tier's events are not touched; aggregates are kept
      expect((await store.listUsageEvents({ ownerId: bob, agentId: theirs.agentId, limit: 100 })).items).toHaveLength(
        25,
      );
      expect(await store.getUsage({ ownerId: alice, period: '2026-10' })).toEqual(usageBefore);
    });

    // ── log lines ──────────────────────────────────────────────────────────────────
    const logLine = (at: string, over: Partial<ShimLogLine> = {}): ShimLogLine => ({
      id: `log:${newId('req')}`,
      at,
      level: 'log',
      message: `line ${at}`,
      ...over,
    });

    it('keeps log lines once by id, in seq order, with a line for the ones the shim dropped', async () => {
      const a = await liveAgent(alice);
      const first = [
        logLine('2026-10-01T00:00:00.000Z', { requestId: 'req_1', sessionId: 'ses_1', level: 'info' }),
        logLine('2026-10-01T00:00:01.000Z', { level: 'error', message: 'boom' }),
      ];
      expect(await store.appendLogs({ ...a, lines: first, dropped: 0 })).toEqual({ accepted: 2, duplicates: 0 });
      // a redelivered batch keeps nothing more; its dropped line too is kept once
      const second = [logLine('2026-10-01T00:00:02.000Z')];
      expect(await store.appendLogs({ ...a, lines: second, dropped: 3 })).toEqual({ accepted: 2, duplicates: 0 });
      expect(await store.appendLogs({ ...a, lines: [...first, ...second], dropped: 0 })).toEqual({
        accepted: 0,
        duplicates: 3,
      });
      expect(await store.appendLogs({ ...a, lines: second, dropped: 3 })).toEqual({ accepted: 0, duplicates: 2 });

      const all = await store.listLogsAfter({ ...a, after: 0, limit: 100 });
      expect(all.map((l) => [l.level, l.message, l.dropped])).toEqual([
        ['info', first[0]!.message, 0],
        ['error', 'boom', 0],
        ['warn', "3 log lines were dropped by the agent's shim", 3],
        ['log', second[0]!.message, 0],
      ]);
      expect(all[0]).toMatchObject({
        id: first[0]!.id,
        requestId: 'req_1',
        sessionId: 'ses_1',
        deploymentId: a.deploymentId,
      });
      expect(all[1]).toMatchObject({ requestId: null, sessionId: null });
      const seqs = all.map((l) => l.seq);
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(4);

      // a tail resumes after a seq; a page is newest first
      expect((await store.listLogsAfter({ ...a, after: seqs[1]!, limit: 100 })).map((l) => l.seq)).toEqual(
        seqs.slice(2),
      );
      expect((await store.listLogsAfter({ ...a, after: seqs[0]!, limit: 1 })).map((l) => l.seq)).toEqual([seqs[1]]);
      const page1 = await store.listLogs({ ...a, limit: 3 });
      expect(page1.items.map((l) => l.seq)).toEqual([...seqs].reverse().slice(0, 3));
      const page2 = await store.listLogs({ ...a, limit: 3, cursor: page1.nextCursor! });
      expect(page2).toEqual({ items: [all[0]], nextCursor: null });
    });

    it("keeps no log lines for a deployment that is not the agent's and owner's, and reads none of another owner's", async () => {
      const a = await liveAgent(alice);
      const b = await liveAgent(bob);
      const lines = [logLine('2026-10-01T00:00:00.000Z')];
      await expectAppError(store.appendLogs({ ...a, ownerId: bob, lines, dropped: 0 }), 'not_found');
      await expectAppError(store.appendLogs({ ...a, deploymentId: b.deploymentId, lines, dropped: 0 }), 'not_found');
      await store.appendLogs({ ...b, lines, dropped: 0 });
      await expectAppError(store.listLogs({ ownerId: alice, agentId: b.agentId, limit: 10 }), 'not_found');
      await expectAppError(
        store.listLogsAfter({ ownerId: alice, agentId: b.agentId, after: 0, limit: 10 }),
        'not_found',
      );
      expect(await store.listLogsAfter({ ...a, after: 0, limit: 10 })).toEqual([]);
      expect((await store.listLogs({ ...b, limit: 10 })).items).toHaveLength(1);
    });

    it('retention deletes the log lines older than the cutoff for the tier, in batches', async () => {
      await store.setUserTier({ userId: alice, tier: 'starter', now: now() });
      await store.setUserTier({ userId: bob, tier: 'enterprise', now: now() });
      const mine = await liveAgent(alice);
      const theirs = await liveAgent(bob);
      const cutoff = new Date('2026-10-15T00:00:00.000Z');
      const old = Array.from({ length: 15 }, (_, i) =>
        logLine(new Date(cutoff.getTime() - (i + 1) * 60_000).toISOString()),
      );
      const recent = [logLine(cutoff.toISOString()), logLine(new Date(cutoff.getTime() + 1000).toISOString())];
      await store.appendLogs({ ...mine, lines: [...old, ...recent], dropped: 0 });
      await store.appendLogs({ ...theirs, lines: old, dropped: 0 });
      for (;;) {
        const { deleted } = await store.deleteLogsBefore({ tier: 'starter', cutoff, limit: 10 });
        expect(deleted).toBeLessThanOrEqual(10);
        if (deleted < 10) break;
      }
      expect((await store.listLogsAfter({ ...mine, after: 0, limit: 100 })).map((l) => l.id)).toEqual(
        recent.map((l) => l.id),
      );
      expect(await store.listLogsAfter({ ...theirs, after: 0, limit: 100 })).toHaveLength(15);
    });

    // ── billing periods, webhooks ────────────────────────────────────────────────────
    it('closes a billing period once, freezing its totals, and records its usage report once', async () => {
      const a = await liveAgent(alice);
      expect(await store.getBillingPeriod({ ownerId: alice, period: '2026-09' })).toMatchObject({
        status: 'open',
        totals: null,
        costUsd: null,
        closedAt: null,
      });
      await store.recordRequests([
        request(a, '2026-09-10T00:00:00.000Z'),
        request(a, '2026-09-11T00:00:00.000Z'),
        request(a, '2026-09-30T23:59:59.999Z', { runtime: 'cloudflare' }),
        request(a, '2026-10-01T00:00:00.000Z'), // the next period
      ]);
      await store.ingestTelemetry({ ...a, events: [event('2026-09-10T00:00:00.100Z', { computeMs: 1_000_000 })] });
      const results = await Promise.all(
        [1, 2].map(() => store.closeBillingPeriod({ ownerId: alice, period: '2026-09', now: now() })),
      );
      expect(results.filter((r) => r.closedNow)).toHaveLength(1);
      const closed = await store.getBillingPeriod({ ownerId: alice, period: '2026-09' });
      expect(closed).toMatchObject({
        status: 'closed',
        totals: { requests: 3, errors: 0, durationMs: 30, computeMs: 1_000_000, inputBytes: 300, outputBytes: 600 },
        // priced per runtime (lib/contracts/usage.ts): 2 local requests + 1M local compute ms + 1 cloudflare request
        costUsd:
          estimateCostUsd('local', { requests: 2, computeMs: 1_000_000 }) +
          estimateCostUsd('cloudflare', { requests: 1, computeMs: 0 }),
      });
      const reports = await Promise.all(
        [1, 2, 3].map(() =>
          store.recordUsageReport({ ownerId: alice, period: '2026-09', reportId: 'ur_1', now: now() }),
        ),
      );
      expect(reports.filter(Boolean)).toHaveLength(1);
      expect((await store.getBillingPeriod({ ownerId: alice, period: '2026-09' })).usageReportId).toBe('ur_1');
      await expectAppError(
        store.recordUsageReport({ ownerId: alice, period: '2026-08', reportId: 'ur_2', now: now() }),
        'conflict',
      );
    });

    it('lists the owners a period close visits: usage in the period or a subscription item, paged by owner id', async () => {
      // a period no other test uses, so only subscribers from other tests show up beside ours
      const period = '2031-04';
      const used = await Promise.all([alice, bob].map((ownerId) => liveAgent(ownerId)));
      const subscriber = newId('usr');
      const elsewhere = newId('usr'); // usage in another period only
      const idle = newId('usr'); // neither
      for (const u of [subscriber, elsewhere, idle]) await store.ensureUser(u, now());
      await store.setUserBilling({ userId: subscriber, billing: { subscriptionItemId: 'si_42' }, now: now() });
      await store.setUserBilling({ userId: bob, billing: { subscriptionItemId: 'si_43' }, now: now() });
      const other = await liveAgent(elsewhere);
      await store.recordRequests([
        ...used.map((a) => request(a, '2031-04-02T10:00:00.000Z')),
        request(used[0]!, '2031-04-30T23:00:00.000Z', { runtime: 'cloudflare' }),
        request(other, '2031-03-31T23:59:59.000Z'),
      ]);

      const pages: { ownerId: string; subscriptionItemId: string | null }[][] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.listBillableOwners({ period, after, limit: 2 });
        expect(page.owners.length).toBeLessThanOrEqual(2);
        pages.push(page.owners);
        if (page.next === null) break;
        expect(page.next > (after ?? '')).toBe(true);
        after = page.next;
      }
      const owners = pages.flat();
      const ids = owners.map((o) => o.ownerId);
      expect(ids).toEqual([...new Set(ids)].sort()); // ascending, each once
      expect(owners).toEqual(
        expect.arrayContaining([
          { ownerId: alice, subscriptionItemId: null },
          { ownerId: bob, subscriptionItemId: 'si_43' },
          { ownerId: subscriber, subscriptionItemId: 'si_42' },
        ]),
      );
      expect(ids).not.toContain(elsewhere);
      expect(ids).not.toContain(idle);
      // every owner listed has usage in the period or a subscription item
      for (const o of owners)
        if (o.subscriptionItemId === null)
          expect((await store.getUsage({ ownerId: o.ownerId, period })).length).toBeGreaterThan(0);
      // a page starts after `after`
      const rest = await store.listBillableOwners({ period, after: alice, limit: 1000 });
      expect(rest.owners.every((o) => o.ownerId > alice)).toBe(true);
      await expectAppError(store.listBillableOwners({ period: '2031-13', limit: 2 }), 'validation_failed');
      await expectAppError(store.listBillableOwners({ period, limit: 0 }), 'validation_failed');
    });

    it('handles each webhook event id once, even under concurrent redelivery', async () => {
      const eventId = newId('req');
      const firsts = await Promise.all(
        Array.from({ length: 5 }, () =>
          store.recordWebhookEvent({
            provider: 'lemonsqueezy',
            eventId,
            eventName: 'subscription_created',
            now: now(),
          }),
        ),
      );
      expect(firsts.filter(Boolean)).toHaveLength(1);
      expect(await store.recordWebhookEvent({ provider: 'other', eventId, eventName: 'x', now: now() })).toBe(true);
    });

    // ── audit log ────────────────────────────────────────────────────────────────────
    it('writes an agent change’s audit entry with it, and none when the change is refused', async () => {
      const note = (action: string, targetId: string) => ({
        actor: `user:${alice}`,
        action,
        targetType: 'agent',
        targetId,
      });
      const actions = async () => (await store.listAudit(alice, { limit: 50 })).items.map((e) => e.action).reverse();
      const id = newId('agt');
      await store.createAgent({
        id,
        ownerId: alice,
        name: 'audited',
        runtime: 'local',
        now: now(),
        audit: note('agent.created', id),
      });
      const other = await agentOf(alice, 'taken');
      await expectAppError(
        store.renameAgent({ ownerId: alice, agentId: id, name: 'taken', now: now(), audit: note('agent.renamed', id) }),
        'conflict',
      );
      await expectAppError(
        store.createAgent({
          id: newId('agt'),
          ownerId: alice,
          name: 'taken',
          runtime: 'local',
          now: now(),
          audit: note('agent.created', 'x'),
        }),
        'conflict',
      );
      await store.renameAgent({
        ownerId: alice,
        agentId: id,
        name: 'renamed',
        now: now(),
        audit: note('agent.renamed', id),
      });
      await store.setAgentRuntime({
        ownerId: alice,
        agentId: id,
        runtime: 'cloudflare',
        now: now(),
        audit: note('agent.runtime_changed', id),
      });
      const dep = await deploymentOf(alice, other.id); // in flight: deleting it is refused
      await expectAppError(
        store.deleteAgent({ ownerId: alice, agentId: other.id, now: now(), audit: note('agent.deleted', other.id) }),
        'conflict',
      );
      await store.transitionDeployment({ ownerId: alice, deploymentId: dep.id, to: 'canceled', now: now() });
      await store.deleteAgent({ ownerId: alice, agentId: id, now: now(), audit: note('agent.deleted', id) });
      await store.restoreAgent({ ownerId: alice, agentId: id, now: now(), audit: note('agent.restored', id) });
      expect(await actions()).toEqual([
        'agent.created',
        'agent.renamed',
        'agent.runtime_changed',
        'agent.deleted',
        'agent.restored',
      ]);
      // bob's log is his own
      expect((await store.listAudit(bob, { limit: 50 })).items).toEqual([]);
    });

    it('writes a change’s audit entry with the change, and none for a repeat or a refused change', async () => {
      const agent = await agentOf(alice);
      const note = (action: string) => ({ actor: `user:${alice}`, action, targetType: 'agent', targetId: agent.id });
      const actions = async () => (await store.listAudit(alice, { limit: 50 })).items.map((e) => e.action).reverse();
      const dep = await deploymentOf(alice, agent.id);
      await store.transitionDeployment({ ownerId: alice, deploymentId: dep.id, to: 'building', now: now() });
      await store.transitionDeployment({
        ownerId: alice,
        deploymentId: dep.id,
        to: 'failed',
        now: now(),
        audit: note('deployment.failed'),
      });
      await store.transitionDeployment({
        ownerId: alice,
        deploymentId: dep.id,
        to: 'failed',
        now: now(),
        audit: note('deployment.failed'),
      });
      await expectAppError(
        store.transitionDeployment({
          ownerId: alice,
          deploymentId: dep.id,
          to: 'live',
          now: now(),
          audit: note('refused'),
        }),
        'conflict',
      );
      const live = await deploymentOf(alice, agent.id);
      await toLive(alice, live.id);
      const switchTo = {
        ownerId: alice,
        agentId: agent.id,
        expected: null,
        next: live.id,
        now: now(),
        audit: note('switched'),
      };
      expect(await store.switchActiveDeployment(switchTo)).toBe(true);
      expect(await store.switchActiveDeployment(switchTo)).toBe(false); // lost compare-and-set: no entry
      const secret = {
        ownerId: alice,
        agentId: agent.id,
        name: 'K',
        deleted: false,
        now: now(),
        audit: note('secret.set'),
      };
      await store.recordSecretVersion({ ...secret, version: 1 });
      await store.recordSecretVersion({ ...secret, version: 1 }); // a repeat
      expect(await actions()).toEqual(['deployment.failed', 'switched', 'secret.set']);
      const [entry] = (await store.listAudit(alice, { limit: 1 })).items;
      expect(entry).toMatchObject({ ownerId: alice, actor: `user:${alice}`, targetId: agent.id });
    });

    it('appends to an owner’s audit log and pages it newest first, stable under inserts', async () => {
      for (let i = 0; i < 3; i++)
        await store.appendAudit({
          ownerId: alice,
          actor: alice,
          action: `agent.created.${i}`,
          targetType: 'agent',
          targetId: `agt_${i}`,
          details: { i },
          now: now(),
        });
      await store.appendAudit({
        ownerId: bob,
        actor: bob,
        action: 'agent.created',
        targetType: 'agent',
        targetId: 'agt_b',
        now: now(),
      });
      const first = await store.listAudit(alice, { limit: 2 });
      expect(first.items.map((e) => e.action)).toEqual(['agent.created.2', 'agent.created.1']);
      expect(first.items[0]).toMatchObject({
        ownerId: alice,
        actor: alice,
        targetType: 'agent',
        targetId: 'agt_2',
        details: { i: 2 },
      });
      await store.appendAudit({
        ownerId: alice,
        actor: alice,
        action: 'later',
        targetType: 'agent',
        targetId: 'x',
        now: now(),
      });
      const second = await store.listAudit(alice, { limit: 2, cursor: first.nextCursor! });
      expect(second.items.map((e) => e.action)).toEqual(['agent.created.0']);
      expect(second.nextCursor).toBeNull();
      expect((await store.listAudit(bob, { limit: 10 })).items.map((e) => e.action)).toEqual(['agent.created']);
    });

    // ── outbound webhooks ──────────────────────────────────────────────────────────
    const endpointOf = (ownerId: string, events: CreateWebhookEndpointInput['events'], maxActive = 10) =>
      store.createWebhookEndpoint({
        id: newId('whe'),
        ownerId,
        url: 'https://hooks.example.com/in',
        events,
        description: null,
        actor: `user:${ownerId}`,
        maxActive,
        now: now(),
      });

    it('keeps webhook endpoints per owner, newest first in pages, with their audit entries and a limit', async () => {
      const first = await endpointOf(alice, ['deployment.live']);
      const second = await endpointOf(alice, ['deployment.failed', 'rollback.completed']);
      expect(first).toEqual({
        id: first.id,
        url: 'https://hooks.example.com/in',
        events: ['deployment.live'],
        description: null,
        createdAt: expect.any(String),
        disabled: false,
      });
      const page = await store.listWebhookEndpoints(alice, { limit: 1 });
      expect(page.items.map((e) => e.id)).toEqual([second.id]);
      const next = await store.listWebhookEndpoints(alice, { limit: 1, cursor: page.nextCursor! });
      expect(next).toEqual({ items: [first], nextCursor: null });
      expect((await store.listWebhookEndpoints(bob, { limit: 10 })).items).toEqual([]);

      await expectAppError(endpointOf(alice, ['deployment.live'], 2), 'conflict');
      await expectAppError(
        store.deleteWebhookEndpoint({ ownerId: bob, id: first.id, actor: 'x', now: now() }),
        'not_found',
      );
      await expectAppError(store.listWebhookDeliveries(bob, first.id, { limit: 10 }), 'not_found');
      await store.deleteWebhookEndpoint({ ownerId: alice, id: first.id, actor: `user:${alice}`, now: now() });
      await expectAppError(
        store.deleteWebhookEndpoint({ ownerId: alice, id: first.id, actor: `user:${alice}`, now: now() }),
        'not_found',
      );
      await expectAppError(store.listWebhookDeliveries(alice, first.id, { limit: 10 }), 'not_found');
      expect((await store.listWebhookEndpoints(alice, { limit: 10 })).items.map((e) => e.id)).toEqual([second.id]);
      // a deleted endpoint no longer counts toward the limit
      await expect(endpointOf(alice, ['deployment.live'], 2)).resolves.toMatchObject({ events: ['deployment.live'] });
      const audit = (await store.listAudit(alice, { limit: 10 })).items;
      expect(audit.map((e) => [e.action, e.targetId])).toEqual([
        ['webhook.created', expect.any(String)],
        ['webhook.deleted', first.id],
        ['webhook.created', second.id],
        ['webhook.created', first.id],
      ]);
      expect((await store.listAudit(bob, { limit: 10 })).items).toEqual([]);
    });

    it('sends no new events to a disabled endpoint, and audits disabling and enabling once each', async () => {
      const endpoint = await endpointOf(alice, ['deployment.live']);
      const set = (disabled: boolean, ownerId = alice) =>
        store.setWebhookEndpointDisabled({ ownerId, id: endpoint.id, disabled, actor: `user:${ownerId}`, now: now() });
      await expectAppError(set(true, bob), 'not_found');
      expect(await set(true)).toMatchObject({ id: endpoint.id, disabled: true });
      expect(await set(true)).toMatchObject({ disabled: true });
      const event = {
        ownerId: alice,
        eventId: newId('evt'),
        type: 'deployment.live' as const,
        agentId: newId('agt'),
        deploymentId: newId('dep'),
        body: '{}',
        keepPerEndpoint: 100,
        now: now(),
      };
      expect((await store.recordWebhookDeliveries(event)).deliveryIds).toEqual([]);
      expect((await store.listWebhookEndpoints(alice, { limit: 10 })).items).toEqual([{ ...endpoint, disabled: true }]);
      expect(await set(false)).toEqual(endpoint);
      expect((await store.recordWebhookDeliveries({ ...event, eventId: newId('evt') })).deliveryIds).toHaveLength(1);
      const actions = (await store.listAudit(alice, { limit: 10 })).items.map((e) => e.action);
      expect(actions).toEqual(['webhook.enabled', 'webhook.disabled', 'webhook.created']);
    });

    it('keeps an endpoint’s newest deliveries, and pending ones until they end', async () => {
      const endpoint = await endpointOf(alice, ['deployment.live']);
      const record = async () => {
        const { deliveryIds } = await store.recordWebhookDeliveries({
          ownerId: alice,
          eventId: newId('evt'),
          type: 'deployment.live',
          agentId: newId('agt'),
          deploymentId: newId('dep'),
          body: '{}',
          keepPerEndpoint: 2,
          now: now(),
        });
        return deliveryIds[0]!;
      };
      const finish = (deliveryId: string) =>
        store.recordWebhookAttempt({
          ownerId: alice,
          deliveryId,
          attempt: 1,
          status: 'succeeded',
          responseStatus: 200,
          error: null,
          now: now(),
        });
      const kept = async () =>
        (await store.listWebhookDeliveries(alice, endpoint.id, { limit: 10 })).items.map((d) => d.id);
      const first = await record();
      const second = await record();
      const third = await record();
      // the oldest is still pending: kept
      expect(await kept()).toEqual([third, second, first]);
      await finish(first);
      await finish(second);
      const fourth = await record();
      expect(await kept()).toEqual([fourth, third]);
    });

    it('records an event once per subscribed endpoint and keeps each attempt’s outcome on its delivery', async () => {
      const live = await endpointOf(alice, ['deployment.live']);
      const all = await endpointOf(alice, ['deployment.live', 'deployment.failed']);
      await endpointOf(alice, ['rollback.completed']);
      await endpointOf(bob, ['deployment.live']);
      const event = {
        ownerId: alice,
        eventId: newId('evt'),
        type: 'deployment.live' as const,
        agentId: newId('agt'),
        deploymentId: newId('dep'),
        body: '{"type":"deployment.live"}',
        keepPerEndpoint: 100,
        now: now(),
      };
      const { deliveryIds } = await store.recordWebhookDeliveries(event);
      expect(deliveryIds).toHaveLength(2);
      // a repeat (a retried activity) records nothing new
      expect(await store.recordWebhookDeliveries(event)).toEqual({ deliveryIds });

      const [toLive] = (await store.listWebhookDeliveries(alice, live.id, { limit: 10 })).items;
      expect(toLive).toEqual({
        id: expect.any(String),
        endpointId: live.id,
        eventId: event.eventId,
        eventType: 'deployment.live',
        agentId: event.agentId,
        deploymentId: event.deploymentId,
        status: 'pending',
        attempts: 0,
        lastResponseStatus: null,
        lastError: null,
        createdAt: expect.any(String),
        lastAttemptAt: null,
        finishedAt: null,
      });
      expect(deliveryIds).toContain(toLive!.id);
      expect(await store.getWebhookDeliveryTarget(alice, toLive!.id)).toEqual({
        deliveryId: toLive!.id,
        endpointId: live.id,
        url: 'https://hooks.example.com/in',
        body: event.body,
        status: 'pending',
      });
      expect(await store.getWebhookDeliveryTarget(bob, toLive!.id)).toBeNull();
      await expectAppError(
        store.recordWebhookAttempt({
          ownerId: bob,
          deliveryId: toLive!.id,
          attempt: 1,
          status: 'failed',
          responseStatus: null,
          error: 'x',
          now: now(),
        }),
        'not_found',
      );

      const attempt = (n: number, status: 'pending' | 'succeeded' | 'failed', responseStatus: number | null) =>
        store.recordWebhookAttempt({
          ownerId: alice,
          deliveryId: toLive!.id,
          attempt: n,
          status,
          responseStatus,
          error: status === 'succeeded' ? null : `HTTP ${responseStatus}`,
          now: now(),
        });
      expect(await attempt(1, 'pending', 503)).toMatchObject({
        status: 'pending',
        attempts: 1,
        lastResponseStatus: 503,
        lastError: 'HTTP 503',
        lastAttemptAt: expect.any(String),
        finishedAt: null,
      });
      expect(await attempt(2, 'succeeded', 204)).toMatchObject({
        status: 'succeeded',
        attempts: 2,
        lastResponseStatus: 204,
        lastError: null,
        finishedAt: expect.any(String),
      });
      // final: a late attempt's outcome changes nothing
      expect(await attempt(3, 'failed', 500)).toMatchObject({ status: 'succeeded', attempts: 2 });

      // deleting an endpoint gives up its pending deliveries
      const other = deliveryIds.find((id) => id !== toLive!.id)!;
      await store.deleteWebhookEndpoint({ ownerId: alice, id: all.id, actor: `user:${alice}`, now: now() });
      expect(await store.getWebhookDeliveryTarget(alice, other)).toBeNull();
      expect(
        await store.recordWebhookAttempt({
          ownerId: alice,
          deliveryId: other,
          attempt: 1,
          status: 'succeeded',
          responseStatus: 200,
          error: null,
          now: now(),
        }),
      ).toMatchObject({ status: 'failed', lastError: 'the endpoint was deleted' });
      // another event type reaches only its subscribers; an owner without endpoints records none
      const failed = await store.recordWebhookDeliveries({
        ...event,
        eventId: newId('evt'),
        type: 'deployment.failed',
      });
      expect(failed.deliveryIds).toEqual([]);
      expect(
        (await store.recordWebhookDeliveries({ ...event, ownerId: newId('usr'), eventId: newId('evt') })).deliveryIds,
      ).toEqual([]);
    });

    // ── bad input ────────────────────────────────────────────────────────────────────
    it('refuses oversized and malformed input with validation_failed and writes nothing', async () => {
      await expectAppError(
        store.createAgent({ id: newId('agt'), ownerId: alice, name: 'x'.repeat(64), runtime: 'local', now: now() }),
        'validation_failed',
      );
      await expectAppError(
        store.createAgent({ id: newId('agt'), ownerId: alice, name: 'ok', runtime: 'mars' as 'local', now: now() }),
        'validation_failed',
      );
      const agent = await agentOf(alice, 'valid');
      await expectAppError(
        store.recordSecretVersion({
          ownerId: alice,
          agentId: agent.id,
          name: 'bad name',
          version: 1,
          deleted: false,
          now: now(),
        }),
        'validation_failed',
      );
      await expectAppError(
        store.appendAudit({
          ownerId: alice,
          actor: alice,
          action: 'x'.repeat(1000),
          targetType: 'agent',
          targetId: 'a',
          now: now(),
        }),
        'validation_failed',
      );
      await expectAppError(store.getUsage({ ownerId: alice, period: '2026-13' }), 'validation_failed');
      expect((await store.listAgents(alice, { limit: 10 })).items.map((a) => a.name)).toEqual(['valid']);
      expect(await store.listSecretMetadata(alice, agent.id)).toEqual([]);
      expect((await store.listAudit(alice, { limit: 10 })).items).toEqual([]);
    });

    it.runIf(factory.notifies)('tells watchers about changes to an owner’s agents and deployments', async () => {
      const seen: { ownerId: string; kind: string; id: string }[] = [];
      const stop = await store.watchChanges((c) => seen.push(c));
      try {
        const agent = await agentOf(alice, 'live-updates');
        const dep = await deploymentOf(alice, agent.id);
        await store.transitionDeployment({ ownerId: alice, deploymentId: dep.id, to: 'building', now: now() });
        await expect
          .poll(() => seen.filter((c) => c.ownerId === alice))
          .toEqual([
            { ownerId: alice, kind: 'agent', id: agent.id },
            { ownerId: alice, kind: 'deployment', id: dep.id },
            { ownerId: alice, kind: 'deployment', id: dep.id },
          ]);
      } finally {
        await stop();
      }
    });
  });
}
