import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/activity';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { pino } from 'pino';
import { inject } from 'vitest';
import { createActivities, type Activities } from '../../activities/index.js';
import { startDeployment } from '../../api/orchestrate.js';
import { temporalWorkflows, type Workflows } from '../../api/temporal.js';
import { ArtifactStore } from '../../lib/artifacts/index.js';
import type { FilesSource } from '../../lib/contracts/index.js';
import type { LocalProvider } from '../../lib/runtime/providers/local.js';
import { openStore, type Store } from '../../lib/store/index.js';
import { startLocalRuntime, type LocalRuntime } from '../../runtime-local/server.js';
import { runDeployWorker, type RunningWorker } from '../../workers/deploy-worker.js';
import { PermanentFailure } from '../../workflows/failures.js';
import { localProvider, testWebhookSecret } from './runtime.js';
import { TEST_DATA_CONVERTER } from './temporal.js';
import type { deployWorkflow } from '../../workflows/deploy/workflow.js';

// Tests fail deploys on purpose; the SDK's warnings about those failures are noise here.
// (Runtime.install must come before the first worker of the process; each test file is one.)
Runtime.install({ logger: new DefaultLogger('ERROR') });

/** Tests give an unhealthy version two quick tries, not the production five with backoff. */
const TEST_HEALTH_CHECK = { attempts: 2, initialIntervalMs: 200 };
/** Webhook deliveries retry within a second or two, not the production hours. */
export const TEST_WEBHOOK_RETRY = { initialIntervalMs: 200, maximumIntervalMs: 1000, maximumAttempts: 4 };

export interface DeployEnv {
  store: Store;
  runtime: LocalRuntime;
  provider: LocalProvider;
  client: Client;
  /** The api's Temporal port, on this env's task queue. */
  workflows: Workflows;
  worker: RunningWorker;
  taskQueue: string;
  /** Makes the next `times` calls of an activity fail for good, as a broken dependency would. */
  failNext(activity: keyof Activities, times?: number): void;
  close(): Promise<void>;
}

/** Wraps each activity so a test can make its next calls fail (compensation paths). */
function withFaults(activities: Activities) {
  const pending = new Map<string, number>();
  const wrapped = Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      async (...args: unknown[]) => {
        const left = pending.get(name) ?? 0;
        if (left > 0) {
          pending.set(name, left - 1);
          throw ApplicationFailure.nonRetryable(`injected failure of ${name}`, PermanentFailure.StoreRefused);
        }
        return (fn as (...a: unknown[]) => unknown)(...args);
      },
    ]),
  ) as Activities;
  return { wrapped, failNext: (name: string, times = 1) => pending.set(name, times) };
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
  const provider = localProvider(runtime);
  const faults = withFaults(
    createActivities({
      store,
      providers: { local: provider },
      artifacts: new ArtifactStore(join(dir, 'artifacts')),
      // receivers in tests listen on loopback
      webhooks: { secretFor: testWebhookSecret, urlPolicy: { allowLoopback: true }, attemptTimeoutMs: 2000 },
    }),
  );
  const activities = faults.wrapped;
  const worker = await runDeployWorker({
    address,
    namespace: 'default',
    activities,
    taskQueue,
    dataConverter: TEST_DATA_CONVERTER,
  });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, dataConverter: TEST_DATA_CONVERTER });
  const temporal = temporalWorkflows(client, { taskQueue });
  return {
    store,
    runtime,
    provider,
    client,
    workflows: {
      ...temporal,
      startDeploy: (input) =>
        temporal.startDeploy({ healthCheck: TEST_HEALTH_CHECK, webhookRetry: TEST_WEBHOOK_RETRY, ...input }),
      startRollback: (input) => temporal.startRollback({ webhookRetry: TEST_WEBHOOK_RETRY, ...input }),
    },
    worker,
    taskQueue,
    failNext: faults.failNext,
    async close() {
      await worker.shutdown();
      await connection.close();
      await runtime.close();
      await store.close();
    },
  };
}

export interface StartedDeploy {
  deploymentId: string;
  workflowId: string;
  handle: WorkflowHandle<typeof deployWorkflow>;
}

/** Starts a deploy the way `POST /v1/agents/:id/deployments` does (api/orchestrate.ts). */
export async function startDeploy(
  env: DeployEnv,
  ownerId: string,
  agentId: string,
  source: FilesSource,
): Promise<StartedDeploy> {
  const deployments = {
    store: env.store,
    workflows: env.workflows,
    deployableRuntimes: ['local'] as const,
    log: pino({ level: 'silent' }),
  };
  const deployment = await startDeployment(deployments, { ownerId, agentId, source });
  return {
    deploymentId: deployment.id,
    workflowId: deployment.workflowId,
    handle: env.client.workflow.getHandle(deployment.workflowId),
  };
}

/** Deploys and waits until the deploy workflow has made the deployment live. */
export async function deployLive(env: DeployEnv, ownerId: string, agentId: string, source: FilesSource) {
  const started = await startDeploy(env, ownerId, agentId, source);
  const { versionRef } = await started.handle.result();
  return { deploymentId: started.deploymentId, versionRef };
}
