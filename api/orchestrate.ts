import { AppError, type Deployment, type FilesSource } from '../lib/contracts/index.js';
import { newId } from '../lib/ids.js';
import { deployWorkflowId } from '../workflows/deploy/config.js';
import { DeploymentErrorCode } from '../workflows/failures.js';
import type { ApiDeps } from './deps.js';

// Orchestration helpers: the api records what a user asked for, then starts the workflow
// that carries it out, and undoes the record if the workflow cannot be started. Routes call
// these; they never sequence store writes and workflow starts themselves.

/**
 * Records intent, then starts the work. When the start fails, `undo` releases what the
 * record holds (an in-flight slot, a pending state) and the caller gets a retryable
 * `internal` error; nothing is left waiting for a workflow that does not exist.
 */
export async function recordThenStart<R>(
  deps: Pick<ApiDeps, 'log'>,
  what: string,
  steps: { record: () => Promise<R>; start: (recorded: R) => Promise<void>; undo: (recorded: R) => Promise<unknown> },
): Promise<R> {
  const recorded = await steps.record();
  try {
    await steps.start(recorded);
  } catch (err) {
    deps.log.error({ err, what }, 'could not start the workflow; undoing what was recorded');
    await steps.undo(recorded);
    throw new AppError('internal', `could not start the ${what}; try again shortly`);
  }
  return recorded;
}

export interface StartDeploymentInput {
  ownerId: string;
  agentId: string;
  source: FilesSource;
}

/**
 * A deploy: a `queued` deployment (which takes the agent's one in-flight slot), then its
 * `deploy-<deploymentId>` workflow. If the workflow cannot be started, the deployment is
 * marked failed, which frees the slot.
 */
export async function startDeployment(
  deps: Pick<ApiDeps, 'store' | 'workflows' | 'deployableRuntimes' | 'log'>,
  input: StartDeploymentInput,
): Promise<Deployment> {
  const { store } = deps;
  const agent = await store.getAgent(input.ownerId, input.agentId);
  if (!deps.deployableRuntimes.includes(agent.runtime)) {
    throw new AppError(
      'runtime_unavailable',
      `the ${agent.runtime} runtime is not available on this platform yet; create the agent with runtime "local"`,
    );
  }
  const id = newId('dep');
  return recordThenStart(deps, 'deploy', {
    record: () =>
      store.createDeployment({
        id,
        ownerId: input.ownerId,
        agentId: agent.id,
        workflowId: deployWorkflowId(id),
        source: input.source,
        now: new Date(),
      }),
    start: async (deployment) => {
      await deps.workflows.startDeploy({
        deploymentId: deployment.id,
        agentId: agent.id,
        ownerId: input.ownerId,
        runtime: agent.runtime,
      });
    },
    undo: (deployment) =>
      store.transitionDeployment({
        ownerId: input.ownerId,
        deploymentId: deployment.id,
        to: 'failed',
        now: new Date(),
        error: { code: DeploymentErrorCode.WorkflowStartFailed, message: 'the deploy workflow could not be started' },
      }),
  });
}
