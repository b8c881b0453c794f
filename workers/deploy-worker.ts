import { existsSync } from 'node:fs';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Activities } from '../activities/index.js';
import { buildTaskQueueFor, DEPLOY_TASK_QUEUE } from '../workflows/deploy/config.js';
import { WORKFLOW_BUNDLE_PATH } from './workflow-bundle.js';

/** How many builds a worker takes from the queue per slot it has to run them. */
const BUILDS_TAKEN_PER_SLOT = 4;

export interface RunningWorker {
  worker: Worker;
  /** Resolves when the workers have shut down and their connection is closed. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Starts polling the deploy task queue (the workflows, with the prebuilt bundle, and every
 * activity) and its build queue (`<queue>-build`: builds only; at most `buildConcurrency` run
 * at a time, shared fairly between owners, and a few more wait their turn here).
 */
export async function runDeployWorker(opts: {
  address: string;
  namespace: string;
  activities: Activities;
  taskQueue?: string;
  buildConcurrency?: number;
  /** The encrypting payload codec (lib/temporal/codec.ts): Temporal stores only ciphertext. */
  dataConverter: DataConverter;
}): Promise<RunningWorker> {
  if (!existsSync(WORKFLOW_BUNDLE_PATH)) {
    throw new Error(`workflow bundle not found at ${WORKFLOW_BUNDLE_PATH}: run \`npm run build:workflows\` first`);
  }
  const taskQueue = opts.taskQueue ?? DEPLOY_TASK_QUEUE;
  const connection = await NativeConnection.connect({ address: opts.address });
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue,
    workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH },
    activities: opts.activities,
    dataConverter: opts.dataConverter,
  });
  const builds = await Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue: buildTaskQueueFor(taskQueue),
    activities: { bundleSource: opts.activities.bundleSource },
    dataConverter: opts.dataConverter,
    // Builds taken from the queue wait here for a fair share of the build slots (activities/build.ts);
    // beyond these, they wait in Temporal's queue, dispatched by owner.
    maxConcurrentActivityTaskExecutions: BUILDS_TAKEN_PER_SLOT * (opts.buildConcurrency ?? 2),
  });
  const done = Promise.all([worker.run(), builds.run()])
    .then(() => undefined)
    .finally(() => connection.close());
  return {
    worker,
    done,
    async shutdown() {
      for (const w of [worker, builds]) if (w.getState() === 'RUNNING') w.shutdown();
      await done.catch(() => undefined);
    },
  };
}
