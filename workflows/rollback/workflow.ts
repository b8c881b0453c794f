import {
  ApplicationFailure,
  CancellationScope,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import { PERMANENT_FAILURES as PERMANENT, PermanentFailure } from '../failures.js';
import { rootCauseFailure } from '../causes.js';
import { WEBHOOKS_PATCH } from '../webhooks/config.js';
import { emitWebhookEvent } from '../webhooks/emit.js';
import { rollbackProgressQuery, type RollbackInput, type RollbackResult, type RollbackStep } from './messages.js';

// Store calls: small, run as local activities (in the workflow's own task, no round trip
// through a task queue: a rollback is meant to take a fraction of a second); retried quickly
// for a while.
const store = proxyLocalActivities<Activities>({
  startToCloseTimeout: '15s',
  retry: {
    initialInterval: '100ms',
    backoffCoefficient: 2,
    maximumInterval: '10s',
    maximumAttempts: 20,
    nonRetryableErrorTypes: PERMANENT,
  },
});

// Re-activating a version may start it again (it was stopped after it stopped serving): up to
// the runtime's start limit. Retried, but a rollback is meant to be quick: after a few tries
// it gives up and restores what served.
const provider = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  // a worker that died mid-call is noticed in seconds: providerCall heartbeats every 5 s
  heartbeatTimeout: '20s',
  retry: {
    initialInterval: '500ms',
    backoffCoefficient: 2,
    maximumInterval: '10s',
    maximumAttempts: 5,
    nonRetryableErrorTypes: PERMANENT,
  },
});

/**
 * rollback-<agentId>-<deploymentId>: serve an earlier deployment again. It builds nothing:
 * check the target (the agent's, reached `live`) → re-activate its version at the provider
 * (starting it if it was stopped) → switch the agent's pointer by compare-and-set, with its
 * audit entry in the same transaction.
 * On failure after the re-activation, the version that served before is activated again.
 * The api took the agent's one in-flight slot before starting this; it is freed at the end
 * whatever happened.
 */
export async function rollbackWorkflow(input: RollbackInput): Promise<RollbackResult> {
  // decided before the first command, as in the deploy workflow: a patched() call after a local
  // activity may not replay in the workflow task its marker was recorded in
  const sendsWebhooks = patched(WEBHOOKS_PATCH);
  const ref = { ownerId: input.ownerId, agentId: input.agentId };
  let step: RollbackStep = 'validate';
  setHandler(rollbackProgressQuery, () => ({ agentId: input.agentId, deploymentId: input.deploymentId, step }));
  const now = () => new Date().toISOString();
  try {
    const target = await store.readRollbackTarget({ ...ref, deploymentId: input.deploymentId });
    const previous = target.serving;
    if (previous?.deploymentId === input.deploymentId) {
      step = 'done';
      return { ...ref0(input), previousDeploymentId: previous.deploymentId, switched: false };
    }

    step = 'activate';
    await provider.activateVersion({ runtime: target.runtime, agentId: input.agentId, versionRef: target.versionRef });
    try {
      step = 'switch';
      const expected = previous?.deploymentId ?? null;
      const { switched } = await store.switchActive({
        ...ref,
        expected,
        next: input.deploymentId,
        now: now(),
        audit: {
          actor: input.actor,
          action: 'agent.rolled_back',
          targetType: 'agent',
          targetId: input.agentId,
          details: { deploymentId: input.deploymentId, previousDeploymentId: expected },
        },
      });
      if (!switched) {
        throw ApplicationFailure.nonRetryable(
          'the agent’s active deployment changed while the rollback ran',
          PermanentFailure.ActivePointerConflict,
        );
      }
    } catch (err) {
      step = 'compensate';
      if (previous) {
        await CancellationScope.nonCancellable(() =>
          provider
            .activateVersion({ runtime: previous.runtime, agentId: input.agentId, versionRef: previous.versionRef })
            .catch((compErr: unknown) =>
              log.error('could not re-activate the previous version', { error: String(compErr) }),
            ),
        );
      }
      throw err;
    }

    if (sendsWebhooks) {
      // switched already: nothing below may cancel or fail the rollback
      await CancellationScope.nonCancellable(() =>
        emitWebhookEvent({
          ...ref,
          deploymentId: input.deploymentId,
          type: 'rollback.completed',
          data: { previousDeploymentId: previous?.deploymentId ?? null },
          ...(input.webhookRetry ? { retry: input.webhookRetry } : {}),
        }),
      );
    }
    step = 'done';
    return { ...ref0(input), previousDeploymentId: previous?.deploymentId ?? null, switched: true };
  } catch (err) {
    throw rootCauseFailure(err);
  } finally {
    await CancellationScope.nonCancellable(() =>
      store.endRollback({ ...ref, workflowId: workflowInfo().workflowId, now: now() }),
    );
  }
}

const ref0 = (input: RollbackInput) => ({ agentId: input.agentId, deploymentId: input.deploymentId });

/** The activity's own failure, so the workflow's failure message says what went wrong, not "activity failed". */
