import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactStore } from '../lib/artifacts/index.js';
import { bundleFiles } from '../lib/build/bundle.js';
import { newId } from '../lib/ids.js';
import type { LocalProvider } from '../lib/runtime/providers/local.js';
import { startLocalRuntime, type LocalRuntime } from '../runtime-local/server.js';
import { echoVersion, UNHEALTHY_AGENT } from '../test/helpers/fixtures.js';
import { localProvider } from '../test/helpers/runtime.js';
import { activityRunner } from '../test/helpers/activities.js';
import { PermanentFailure, RetryableFailure } from '../workflows/failures.js';
import { createRuntimeActivities } from './runtime.js';

// Retry-safety of the provider activities, against the real local runtime (workerd).

let runtime: LocalRuntime;
let provider: LocalProvider;
let artifacts: ArtifactStore;
let activities: ReturnType<typeof createRuntimeActivities>;
const run = activityRunner();

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wh-act-'));
  runtime = await startLocalRuntime({ dataDir: dir, port: 0, drainMs: 500 });
  provider = localProvider(runtime);
  artifacts = new ArtifactStore(join(dir, 'artifacts'));
  activities = createRuntimeActivities({ artifacts, providers: { local: provider } });
});
afterAll(async () => runtime?.close());

async function version(source = echoVersion('v1')) {
  const agentId = newId('agt');
  const input = {
    ownerId: 'usr_x',
    agentId,
    deploymentId: newId('dep'),
    runtime: 'local' as const,
    artifactDigest: await artifacts.put(await bundleFiles(source)),
  };
  return { agentId, input };
}

async function invokeVersion(versionRef: string) {
  const res = await provider.invoke({
    versionRef,
    deploymentId: versionRef.split('.')[1]!, // local version refs are <agentId>.<deploymentId>
    body: '{"input":1}',
    sessionId: 's',
    accept: 'application/json',
    requestId: 'r',
  });
  return (JSON.parse(await res.text()) as { output: { version: string } }).output.version;
}

describe('runtime activities, run twice', () => {
  it('createVersion: the same deployment is one version', async () => {
    const { input } = await version();
    const first = await run(activities.createVersion, input);
    expect(await run(activities.createVersion, input)).toEqual(first);
    expect(await invokeVersion(first.versionRef)).toBe('v1');
  });

  it('healthCheck and activateVersion: repeats change nothing', async () => {
    const { agentId, input } = await version();
    const { versionRef } = await run(activities.createVersion, input);
    expect(await run(activities.healthCheck, { runtime: 'local', versionRef })).toMatchObject({ status: 200 });
    expect(await run(activities.healthCheck, { runtime: 'local', versionRef })).toMatchObject({ status: 200 });
    await run(activities.activateVersion, { runtime: 'local', agentId, versionRef });
    await run(activities.activateVersion, { runtime: 'local', agentId, versionRef });
    expect(await invokeVersion(versionRef)).toBe('v1');
  });

  it('removeVersion: removing a removed version succeeds', async () => {
    const { agentId, input } = await version();
    const { versionRef } = await run(activities.createVersion, input);
    await run(activities.removeVersion, { runtime: 'local', agentId, versionRef });
    expect(await run(activities.removeVersion, { runtime: 'local', agentId, versionRef })).toEqual({ versionRef });
    await expect(invokeVersion(versionRef)).rejects.toThrow();
  });

  it('says which failures to retry: an unhealthy version is retried, another agent’s version is not', async () => {
    const { input } = await version(UNHEALTHY_AGENT);
    const { versionRef } = await run(activities.createVersion, input);
    const unhealthy = await run(activities.healthCheck, { runtime: 'local', versionRef }).catch((e: unknown) => e);
    expect(unhealthy).toBeInstanceOf(ApplicationFailure);
    expect(unhealthy).toMatchObject({ nonRetryable: false, type: RetryableFailure.HealthCheckFailed });
    const stolen = await run(activities.activateVersion, { runtime: 'local', agentId: newId('agt'), versionRef }).catch(
      (e: unknown) => e,
    );
    expect(stolen).toMatchObject({ nonRetryable: true, type: PermanentFailure.VersionNotFound });
    const nowhere = await run(activities.activateVersion, {
      runtime: 'cloudflare',
      agentId: 'agt_x',
      versionRef,
    }).catch((e: unknown) => e);
    expect(nowhere).toMatchObject({ nonRetryable: true, type: PermanentFailure.RuntimeUnavailable });
  });
});
