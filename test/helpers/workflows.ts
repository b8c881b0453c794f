import type { Workflows } from '../../api/temporal.js';
import { deployWorkflowId } from '../../workflows/deploy/config.js';
import type { DeployInput } from '../../workflows/deploy/messages.js';

export interface FakeWorkflows extends Workflows {
  /** Every deploy started, in order. */
  readonly started: DeployInput[];
  /** Makes the next `n` starts fail, as an unreachable Temporal would. */
  failNextStarts(n: number): void;
}

/**
 * A fake of the api's Temporal port, for route tests that need no workflow to run (agent
 * CRUD, validation, auth): it records the deploys it is asked to start and knows no progress.
 */
export function fakeWorkflows(): FakeWorkflows {
  const started: DeployInput[] = [];
  let failing = 0;
  return {
    started,
    failNextStarts(n) {
      failing = n;
    },
    async startDeploy(input) {
      if (failing > 0) {
        failing--;
        throw new Error('Temporal is unreachable (fake)');
      }
      started.push(input);
      return { workflowId: deployWorkflowId(input.deploymentId) };
    },
    deployProgress: async () => null,
  };
}
