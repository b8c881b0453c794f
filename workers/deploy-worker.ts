import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Activities } from '../activities/index.js';
import { DEPLOY_TASK_QUEUE } from '../workflows/deploy/config.js';

/** Built by `npm run build:workflows` (the start and test commands run it); never at run time here. */
export const WORKFLOW_BUNDLE_PATH = resolve(import.meta.dirname, '../dist/workflow-bundle.js');

export async function createDeployWorker(opts: {
  address: string;
  namespace: string;
  activities: Activities;
  workflowBundlePath?: string;
  taskQueue?: string;
}): Promise<Worker> {
  const codePath = opts.workflowBundlePath ?? WORKFLOW_BUNDLE_PATH;
  if (!existsSync(codePath)) throw new Error(`workflow bundle not found at ${codePath}: run \`npm run build:workflows\` first`);
  const connection = await NativeConnection.connect({ address: opts.address });
  return Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue ?? DEPLOY_TASK_QUEUE,
    workflowBundle: { codePath },
    activities: opts.activities,
  });
}
