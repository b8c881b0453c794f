import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactStore } from '../lib/artifacts/index.js';
import type { FilesSource } from '../lib/contracts/index.js';
import { newId } from '../lib/ids.js';
import { openStore, type Store } from '../lib/store/index.js';
import { activityRunner } from '../test/helpers/activities.js';
import { agentSource, echoVersion } from '../test/helpers/fixtures.js';
import { deployWorkflowId } from '../workflows/deploy/config.js';
import { PermanentFailure } from '../workflows/failures.js';
import { createBuildActivities } from './build.js';

let store: Store;
let artifacts: ArtifactStore;
let activities: ReturnType<typeof createBuildActivities>;

beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  artifacts = new ArtifactStore(mkdtempSync(join(tmpdir(), 'wh-artifacts-')));
  activities = createBuildActivities({ store, artifacts });
});
afterAll(async () => store?.close());

async function deploymentOf(source: FilesSource) {
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
    source,
    now: new Date(),
  });
  return { ownerId, agentId: agent.id, deploymentId };
}

describe('bundleSource', () => {
  it('run twice, stores the same content-addressed artifact, and heartbeats while it works', async () => {
    const ref = await deploymentOf(echoVersion('v1'));
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const run = activityRunner(env);
    const first = await run(activities.bundleSource, ref);
    const second = await run(activities.bundleSource, ref);
    expect(first.artifactDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(second).toEqual(first);
    expect(beats.length).toBeGreaterThan(0);
    expect((await artifacts.get(first.artifactDigest)).modules['worker.js']).toContain('"v1"');
  });

  it('fails for good, as BuildFailed, on a source that does not build', async () => {
    const ref = await deploymentOf(agentSource('export default {'));
    const err = await activityRunner()(activities.bundleSource, ref).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ nonRetryable: true, type: PermanentFailure.BuildFailed });
  });
});
