import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { inject } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { temporalWorkflowGateway, type WorkflowGateway } from '../../api/workflows.js';
import { ArtifactStore } from '../../lib/artifacts/index.js';
import { bundleFiles } from '../../lib/build/bundle.js';
import type { FilesSource } from '../../lib/contracts/index.js';
import { newId } from '../../lib/ids.js';
import { LocalProvider } from '../../lib/runtime/providers/local.js';
import { startLocalRuntime, type LocalRuntime } from '../../runtime-local/server.js';
import { openStore, type Store } from '../../lib/store/index.js';
import { runDeployWorker, type RunningWorker } from '../../workers/deploy-worker.js';

// Tests fail deploys on purpose; the SDK's warnings about those failures are noise here.
// (Runtime.install must come before the first worker of the process; each test file is one.)
Runtime.install({ logger: new DefaultLogger('ERROR') });

export interface DeployEnv {
  store: Store;
  runtime: LocalRuntime;
  provider: LocalProvider;
  client: Client;
  workflows: WorkflowGateway;
  worker: RunningWorker;
  taskQueue: string;
  close(): Promise<void>;
}

/**
 * A real worker on its own task queue (so test files do not steal each other's tasks),
 * against the run's Temporal dev server, with the real activities on an in-memory PGlite
 * store and a real local runtime.
 */
export async function startDeployEnv(): Promise<DeployEnv> {
  const address = inject('temporalAddress');
  const dir = mkdtempSync(join(tmpdir(), 'wh-wf-'));
  const taskQueue = `test-deploy-${randomUUID()}`;
  const store = await openStore({ kind: 'pglite', dataDir: undefined });
  const runtime = await startLocalRuntime({ dataDir: dir, port: 0, drainMs: 500 });
  const provider = new LocalProvider({ controlUrl: runtime.url, token: runtime.token });
  const activities = createActivities({ store, providers: { local: provider }, artifacts: new ArtifactStore(join(dir, 'artifacts')) });
  const worker = await runDeployWorker({ address, namespace: 'default', activities, taskQueue });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  return {
    store,
    runtime,
    provider,
    client,
    workflows: temporalWorkflowGateway(client, { taskQueue }),
    worker,
    taskQueue,
    async close() {
      await worker.shutdown();
      await connection.close();
      await runtime.close();
      await store.close();
    },
  };
}

/** Creates the deployment row the way the api does, then starts its workflow. */
export async function startDeployment(env: DeployEnv, ownerId: string, agentId: string, source: FilesSource, healthCheck = { attempts: 2, initialIntervalMs: 200 }) {
  const deploymentId = newId('dep');
  await env.store.createDeployment({ id: deploymentId, ownerId, agentId, workflowId: `deploy-${deploymentId}`, source, now: new Date() });
  const { workflowId } = await env.workflows.startDeploy({ deploymentId, agentId, ownerId, runtime: 'local', healthCheck });
  return { deploymentId, workflowId, handle: env.client.workflow.getHandle(workflowId) };
}

/**
 * Puts a live deployment in place without Temporal (for gateway tests): the version is
 * deployed and activated at the provider, and the agent points at it.
 */
export async function seedLiveDeployment(store: Store, provider: LocalProvider, ownerId: string, agentId: string, source: FilesSource) {
  const deploymentId = newId('dep');
  const now = new Date();
  await store.createDeployment({ id: deploymentId, ownerId, agentId, workflowId: `deploy-${deploymentId}`, source, now });
  await store.transitionDeployment({ ownerId, deploymentId, to: 'building', now });
  await store.transitionDeployment({ ownerId, deploymentId, to: 'deploying', now });
  const { versionRef } = await provider.deployVersion({ agentId, deploymentId, bundle: await bundleFiles(source) });
  await provider.activateVersion({ agentId, versionRef });
  await store.recordDeploymentStep({ ownerId, deploymentId, providerRef: versionRef, entry: { step: 'create_version', status: 'succeeded', at: now.toISOString() } });
  const current = (await store.getAgent(ownerId, agentId)).activeDeploymentId;
  await store.switchActiveDeployment({ ownerId, agentId, expected: current, next: deploymentId, now });
  await store.transitionDeployment({ ownerId, deploymentId, to: 'live', now });
  return { deploymentId, versionRef };
}
