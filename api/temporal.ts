import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { AgentIdKey, DeploymentIdKey, OwnerIdKey, WorkflowKindKey } from '../lib/temporal/search-attributes.js';
import { DEPLOY_TASK_QUEUE, DEPLOY_WORKFLOW_KIND, deployWorkflowId } from '../workflows/deploy/config.js';
import { progressQuery, type DeployInput, type DeployProgress } from '../workflows/deploy/messages.js';
import type { deployWorkflow } from '../workflows/deploy/workflow.js';

/**
 * The api's port to Temporal: start work, and ask how it is going. Route tests that need no
 * workflow run against a fake of it (test/helpers/workflows.ts).
 */
export interface Workflows {
  /** Starts `deploy-<deploymentId>`; one already running under that id is success. */
  startDeploy(input: DeployInput): Promise<{ workflowId: string }>;
  /** The deploy's `progress` query, or null when the workflow cannot say (ended, unreachable, slow). */
  deployProgress(workflowId: string): Promise<DeployProgress | null>;
}

/** How long a progress query may take before the api answers without it. */
const QUERY_TIMEOUT_MS = 2000;
/** How long a start may take before the api gives up and tells the client to retry. */
const START_TIMEOUT_MS = 10_000;

export function temporalWorkflows(
  client: Client,
  opts: { taskQueue?: string; startTimeoutMs?: number } = {},
): Workflows {
  const taskQueue = opts.taskQueue ?? DEPLOY_TASK_QUEUE;
  return {
    async startDeploy(input) {
      const workflowId = deployWorkflowId(input.deploymentId);
      try {
        const deadline = Date.now() + (opts.startTimeoutMs ?? START_TIMEOUT_MS);
        await client.withDeadline(deadline, () =>
          client.workflow.start<typeof deployWorkflow>('deployWorkflow', {
            taskQueue,
            workflowId,
            args: [input],
            workflowIdConflictPolicy: 'USE_EXISTING',
            typedSearchAttributes: [
              { key: AgentIdKey, value: input.agentId },
              { key: OwnerIdKey, value: input.ownerId },
              { key: DeploymentIdKey, value: input.deploymentId },
              { key: WorkflowKindKey, value: DEPLOY_WORKFLOW_KIND },
            ],
          }),
        );
      } catch (err) {
        // The workflow id is the business key: it already running is success.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      return { workflowId };
    },

    async deployProgress(workflowId) {
      try {
        const handle = client.workflow.getHandle(workflowId);
        return await Promise.race([
          handle.query(progressQuery),
          new Promise<null>((resolve) => setTimeout(() => resolve(null), QUERY_TIMEOUT_MS).unref()),
        ]);
      } catch {
        return null;
      }
    },
  };
}
