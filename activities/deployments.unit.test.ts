import { ApplicationFailure } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../lib/ids.js';
import type { RuntimeProvider } from '../lib/runtime/provider.js';
import { openStore, type Store } from '../lib/store/index.js';
import { echoVersion } from '../test/helpers/fixtures.js';
import { deployWorkflowId } from '../workflows/deploy/config.js';
import { activityRunner } from '../test/helpers/activities.js';
import { PermanentFailure } from '../workflows/failures.js';
import { createDeploymentActivities } from './deployments.js';

// Retry-safety: Temporal may run an activity again after it did its work (a lost worker, a
// timeout after the commit). A repeated call must leave things as one call left them.

let store: Store;
let activities: ReturnType<typeof createDeploymentActivities>;
const run = activityRunner();
const at = () => new Date().toISOString();

beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  // Only whether a provider exists matters to these activities.
  activities = createDeploymentActivities({ store, providers: { local: {} as RuntimeProvider } });
});
afterAll(async () => store?.close());

async function queuedDeployment() {
  const ownerId = newId('usr');
  await store.ensureUser(ownerId, new Date());
  const agent = await store.createAgent({
    id: newId('agt'),
    ownerId,
    name: 'agent',
    runtime: 'local',
    now: new Date(),
  });
  const deploymentId = newId('dep');
  await store.createDeployment({
    id: deploymentId,
    ownerId,
    agentId: agent.id,
    workflowId: deployWorkflowId(deploymentId),
    source: echoVersion('v1'),
    now: new Date(),
  });
  return { ownerId, agentId: agent.id, deploymentId };
}

async function expectPermanent(p: Promise<unknown>, type: string) {
  const err = await p.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect(err).toMatchObject({ nonRetryable: true, type });
}

describe('deployment activities, run twice', () => {
  it('startDeployment: one transition to building, one validate entry', async () => {
    const ref = await queuedDeployment();
    const input = { ...ref, runtime: 'local' as const, now: at() };
    expect(await run(activities.startDeployment, input)).toEqual({ status: 'building' });
    expect(await run(activities.startDeployment, input)).toEqual({ status: 'building' });
    const deployment = await store.getDeployment(ref.ownerId, ref.deploymentId);
    expect(deployment.steps.map((s) => s.step)).toEqual(['validate']);
  });

  it('transitionDeployment: a repeat changes nothing, a move backwards is refused for good', async () => {
    const ref = await queuedDeployment();
    await run(activities.startDeployment, { ...ref, runtime: 'local', now: at() });
    const input = {
      ...ref,
      to: 'deploying' as const,
      step: 'bundle' as const,
      artifactDigest: 'sha256:abc',
      now: at(),
    };
    expect(await run(activities.transitionDeployment, input)).toEqual({ status: 'deploying' });
    expect(await run(activities.transitionDeployment, input)).toEqual({ status: 'deploying' });
    const deployment = await store.getDeployment(ref.ownerId, ref.deploymentId);
    expect(deployment.steps.map((s) => s.step)).toEqual(['validate', 'bundle']);
    expect(deployment.artifactDigest).toBe('sha256:abc');
    await expectPermanent(
      run(activities.transitionDeployment, { ...ref, to: 'building', now: at() }),
      PermanentFailure.DeploymentConflict,
    );
  });

  it('recordStep: the same entry is logged once', async () => {
    const ref = await queuedDeployment();
    const input = {
      ...ref,
      entry: { step: 'create_version' as const, status: 'succeeded' as const, at: at() },
      providerRef: 'v-1',
    };
    await run(activities.recordStep, input);
    expect(await run(activities.recordStep, input)).toEqual({ recordedAt: input.entry.at });
    const deployment = await store.getDeployment(ref.ownerId, ref.deploymentId);
    expect(deployment.steps).toEqual([input.entry]);
    expect(deployment.providerRef).toBe('v-1');
  });

  it('switchActive: a retry after the switch committed still reports it switched', async () => {
    const ref = await queuedDeployment();
    const input = { ownerId: ref.ownerId, agentId: ref.agentId, expected: null, next: ref.deploymentId, now: at() };
    expect(await run(activities.switchActive, input)).toEqual({ switched: true });
    expect(await run(activities.switchActive, input)).toEqual({ switched: true });
    expect(await run(activities.readServing, ref)).toBeNull(); // no provider version recorded yet
    expect((await store.getAgent(ref.ownerId, ref.agentId)).activeDeploymentId).toBe(ref.deploymentId);
    // but a pointer someone else moved is a lost compare-and-set
    const other = { ...input, expected: 'dep_someone_else', next: null };
    expect(await run(activities.switchActive, other)).toEqual({ switched: false });
  });

  it('readServing: reads the same answer every time', async () => {
    const ref = await queuedDeployment();
    await run(activities.recordStep, {
      ...ref,
      entry: { step: 'create_version', status: 'succeeded', at: at() },
      providerRef: 'ref-1',
    });
    await run(activities.switchActive, {
      ownerId: ref.ownerId,
      agentId: ref.agentId,
      expected: null,
      next: ref.deploymentId,
      now: at(),
    });
    const expected = { deploymentId: ref.deploymentId, runtime: 'local', versionRef: 'ref-1' };
    expect(await run(activities.readServing, ref)).toEqual(expected);
    expect(await run(activities.readServing, ref)).toEqual(expected);
  });

  it('fails for good on what retrying cannot fix: another owner, an unconfigured runtime', async () => {
    const ref = await queuedDeployment();
    await expectPermanent(
      run(activities.startDeployment, { ...ref, runtime: 'cloudflare', now: at() }),
      PermanentFailure.RuntimeUnavailable,
    );
    await expectPermanent(
      run(activities.startDeployment, { ...ref, ownerId: 'usr_other', runtime: 'local', now: at() }),
      PermanentFailure.NotFound,
    );
    expect((await store.getDeployment(ref.ownerId, ref.deploymentId)).status).toBe('queued');
  });
});
