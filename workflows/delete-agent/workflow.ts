import { patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import { PERMANENT_FAILURES as PERMANENT } from '../failures.js';
import { FORGETS_SECRETS_PATCH } from './config.js';
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
  // a worker that died mid-call is noticed in seconds: providerCall heartbeats every 5 s
  heartbeatTimeout: '20s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 30,
    nonRetryableErrorTypes: PERMANENT,
  },
});

const store = proxyActivities<Activities>({
  startToCloseTimeout: '15s',
  retry: { initialInterval: '250ms', maximumInterval: '10s', maximumAttempts: 20, nonRetryableErrorTypes: PERMANENT },
});

/**
 * delete-<agentId>: the api has already soft-deleted the agent (it stopped serving at once,
 * its deployments and audit history are kept); this destroys what the agent holds at every
 * runtime it used — every version, its processes, its secrets and stored state — then marks
 * its secrets' metadata deleted and audits the teardown (`agent.torn_down`; the api audited
 * the deletion itself, `agent.deleted`, with the soft delete). Every step is idempotent: a repeated delete runs
 * it all again harmlessly.
 */
export async function deleteAgentWorkflow(input: DeleteAgentInput): Promise<DeleteAgentResult> {
  let step: DeleteAgentStep = 'destroy_runtime';
  setHandler(deleteProgressQuery, () => ({ agentId: input.agentId, step }));
  if (!patched(FORGETS_SECRETS_PATCH)) {
    await provider.destroyAgentRuntime({ runtime: input.runtime, agentId: input.agentId });
    step = 'done';
    return { agentId: input.agentId };
  }
  for (const runtime of input.runtimes ?? [input.runtime]) {
    await provider.destroyAgentRuntime({ runtime, agentId: input.agentId });
  }
  const now = () => new Date().toISOString();
  step = 'forget_secrets';
  const { forgotten } = await store.forgetSecrets({ ownerId: input.ownerId, agentId: input.agentId, now: now() });
  step = 'audit';
  await store.appendAudit({
    ownerId: input.ownerId,
    actor: input.actor ?? 'platform',
    action: 'agent.torn_down',
    targetType: 'agent',
    targetId: input.agentId,
    details: { runtimes: input.runtimes ?? [input.runtime], secretsForgotten: forgotten },
    now: now(),
  });
  step = 'done';
  return { agentId: input.agentId };
}
