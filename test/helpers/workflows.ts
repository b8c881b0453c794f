import type { WorkflowOutcome, Workflows } from '../../api/temporal.js';
import { deleteAgentWorkflowId } from '../../workflows/delete-agent/config.js';
import type { DeleteAgentInput } from '../../workflows/delete-agent/messages.js';
import { deployWorkflowId } from '../../workflows/deploy/config.js';
import type { DeployInput } from '../../workflows/deploy/messages.js';
import { rollbackWorkflowId } from '../../workflows/rollback/config.js';
import type { RollbackInput } from '../../workflows/rollback/messages.js';
import { secretWorkflowId } from '../../workflows/secrets/config.js';
import type { SecretChangeInput } from '../../workflows/secrets/messages.js';
import { billingWebhookWorkflowId } from '../../workflows/billing-webhook/config.js';
import type { BillingWebhookInput } from '../../workflows/billing-webhook/messages.js';

export interface FakeWorkflows extends Workflows {
  /** Every deploy started, in order. */
  readonly started: DeployInput[];
  /** Every secret change started, in order (values included: the fake keeps them only in memory). */
  readonly secretChanges: SecretChangeInput[];
  /** Every rollback started, in order. */
  readonly rollbacks: RollbackInput[];
  /** Every agent delete started, in order. */
  readonly deletes: DeleteAgentInput[];
  /** Every billing webhook workflow started, once per id (as Temporal rejects a duplicate). */
  readonly billingWebhooks: BillingWebhookInput[];
  /** What `workflowOutcome` answers for a workflow id (running, unless set). */
  readonly outcomes: Map<string, WorkflowOutcome>;
  /** Makes the next `n` starts fail, as an unreachable Temporal would. */
  failNextStarts(n: number): void;
}

/**
 * A fake of the api's Temporal port, for route tests that need no workflow to run (agent
 * CRUD, validation, auth): it records the workflows it is asked to start, knows no progress,
 * and says of each workflow what a test set in `outcomes` (running otherwise).
 */
export function fakeWorkflows(): FakeWorkflows {
  const started: DeployInput[] = [];
  const deletes: DeleteAgentInput[] = [];
  const rollbacks: RollbackInput[] = [];
  const secretChanges: SecretChangeInput[] = [];
  const billingWebhooks: BillingWebhookInput[] = [];
  const outcomes = new Map<string, WorkflowOutcome>();
  let failing = 0;
  const failIfAsked = () => {
    if (failing > 0) {
      failing--;
      throw new Error('Temporal is unreachable (fake)');
    }
  };
  return {
    started,
    deletes,
    rollbacks,
    secretChanges,
    billingWebhooks,
    outcomes,
    failNextStarts(n) {
      failing = n;
    },
    async startDeploy(input) {
      failIfAsked();
      started.push(input);
      return { workflowId: deployWorkflowId(input.deploymentId) };
    },
    async startRollback(input) {
      failIfAsked();
      rollbacks.push(input);
      return { workflowId: rollbackWorkflowId(input.agentId, input.deploymentId) };
    },
    // No worker runs here: every change stays pending, and the api answers 202.
    async changeSecret(input) {
      failIfAsked();
      secretChanges.push(input);
      return {
        state: 'pending',
        workflowId: secretWorkflowId(input.agentId, input.name, input.version),
        version: input.version,
      };
    },
    async startDeleteAgent(input) {
      failIfAsked();
      deletes.push(input);
      return { workflowId: deleteAgentWorkflowId(input.agentId) };
    },
    async startBillingWebhook(input) {
      failIfAsked();
      if (!billingWebhooks.some((b) => b.eventKey === input.eventKey)) billingWebhooks.push(input);
      return { workflowId: billingWebhookWorkflowId(input.eventKey) };
    },
    deployProgress: async () => null,
    workflowOutcome: async (workflowId) => outcomes.get(workflowId) ?? { state: 'running' },
  };
}
