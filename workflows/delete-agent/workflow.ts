import { proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import { PERMANENT_FAILURES as PERMANENT } from '../failures.js';
import {
  deleteProgressQuery,
  type DeleteAgentInput,
  type DeleteAgentResult,
  type DeleteAgentStep,
} from './messages.js';

// Tearing an agent down at its provider: idempotent (destroying what is gone succeeds), so
// retried patiently; a runtime that is down for a while only delays the cleanup.
const provider = proxyActivities<Activities>({
  startToCloseTimeout: '2m',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 30,
    nonRetryableErrorTypes: PERMANENT,
  },
});

/**
 * delete-<agentId>: the api has already soft-deleted the agent (it stopped serving at once,
 * its history is kept); this destroys what the agent holds at its runtime: every version,
 * its processes, its secrets and stored state.
 */
export async function deleteAgentWorkflow(input: DeleteAgentInput): Promise<DeleteAgentResult> {
  let step: DeleteAgentStep = 'destroy_runtime';
  setHandler(deleteProgressQuery, () => ({ agentId: input.agentId, step }));
  await provider.destroyAgentRuntime({ runtime: input.runtime, agentId: input.agentId });
  step = 'done';
  return { agentId: input.agentId };
}
