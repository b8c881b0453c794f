import { existsSync } from 'node:fs';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Activities } from '../activities/index.js';
import { DEPLOY_TASK_QUEUE } from '../workflows/deploy/config.js';
import { WORKFLOW_BUNDLE_PATH } from './workflow-bundle.js';

export interface RunningWorker {
  worker: Worker;
  /** Resolves when the worker has shut down and its connection is closed. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** Starts polling the deploy task queue with the prebuilt workflow bundle and the given activities. */
export async function runDeployWorker(opts: {
  address: string;
  namespace: string;
  activities: Activities;
  taskQueue?: string;
}): Promise<RunningWorker> {
  if (!existsSync(WORKFLOW_BUNDLE_PATH))
    throw new Error(`workflow bundle not found at ${WORKFLOW_BUNDLE_PATH}: run \`npm run build:workflows\` first`);
  const connection = await NativeConnection.connect({ address: opts.address });
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue ?? DEPLOY_TASK_QUEUE,
    workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH },
    activities: opts.activities,
  });
  const done = worker.run().finally(() => connection.close());
  return {
    worker,
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done.catch(() => undefined);
    },
  };
}
