import { existsSync } from 'node:fs';
import type { DataConverter } from '@temporalio/common';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Activities } from '../activities/index.js';
import { noTracing, type Tracing } from '../lib/tracing.js';
import { buildTaskQueueFor, DEPLOY_TASK_QUEUE } from '../workflows/deploy/config.js';
import { WORKFLOW_BUNDLE_PATH } from './workflow-bundle.js';

/** The sink the bundle's workflow interceptors hand their spans to; every worker of the bundle needs it. */
export function workflowSinks(tracing: Tracing = noTracing('webhost-worker')) {
  return { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) };
}

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
  /** Where workflow and activity spans go (lib/tracing.ts); none when left out. */
  tracing?: Tracing;
}): Promise<RunningWorker> {
  if (!existsSync(WORKFLOW_BUNDLE_PATH)) {
    throw new Error(`workflow bundle not found at ${WORKFLOW_BUNDLE_PATH}: run \`npm run build:workflows\` first`);
  }
  const taskQueue = opts.taskQueue ?? DEPLOY_TASK_QUEUE;
  // Activity spans continue the workflow's trace (from the headers its interceptors set), and
  // the activity's log lines carry the trace ids.
  const traced: Pick<WorkerOptions, 'interceptors'> = {
    interceptors: {
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
  };
  const connection = await NativeConnection.connect({ address: opts.address });
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue,
    workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH },
    activities: opts.activities,
    dataConverter: opts.dataConverter,
    ...traced,
    sinks: workflowSinks(opts.tracing),
  });
  const builds = await Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue: buildTaskQueueFor(taskQueue),
    activities: { bundleSource: opts.activities.bundleSource },
    dataConverter: opts.dataConverter,
    ...traced,
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
