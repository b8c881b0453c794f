import { CancellationScope, log, proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import { PERMANENT_FAILURES as PERMANENT } from '../failures.js';
import { rootCauseFailure } from '../causes.js';
import {
  secretProgressQuery,
  type SecretChangeInput,
  type SecretChangeResult,
  type SecretChangeStep,
} from './messages.js';

// Store calls: small, run as local activities (no round trip through a task queue).
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

// Setting a value at the provider: idempotent (the same value again is the same state), so
// retried patiently; a runtime that is briefly down only delays the change.
const provider = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  // a worker that died mid-call is noticed in seconds: providerCall heartbeats every 5 s
  heartbeatTimeout: '20s',
  retry: {
    initialInterval: '500ms',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 10,
    nonRetryableErrorTypes: PERMANENT,
  },
});

/**
 * secret-<agentId>-<name>-<version>: set (or delete) the secret at the agent's runtime, where
 * the agent reads it as `env.NAME` on its next invocation, then record the new version (never
 * the value) and audit the change. If the change cannot be recorded (the agent was deleted
 * meanwhile), a value it set is deleted again at the runtime, so nothing is left there that
 * the platform does not know of.
 */
export async function secretWorkflow(input: SecretChangeInput): Promise<SecretChangeResult> {
  const deleted = input.value === undefined;
  let step: SecretChangeStep = 'apply';
  setHandler(secretProgressQuery, () => ({ name: input.name, version: input.version, step }));
  const target = { runtime: input.runtime, agentId: input.agentId, name: input.name };
  const now = () => new Date().toISOString();
  try {
    if (deleted) await provider.deleteAgentSecret(target);
    else await provider.setAgentSecret({ ...target, value: input.value! });

    step = 'record';
    let recorded;
    try {
      recorded = await store.recordSecretVersion({
        ownerId: input.ownerId,
        agentId: input.agentId,
        name: input.name,
        version: input.version,
        deleted,
        now: now(),
        audit: {
          actor: input.actor,
          action: deleted ? 'secret.deleted' : 'secret.set',
          targetType: 'agent',
          targetId: input.agentId,
          details: { name: input.name, version: input.version },
        },
      });
    } catch (err) {
      if (!deleted) {
        step = 'compensate';
        await CancellationScope.nonCancellable(() =>
          provider
            .deleteAgentSecret(target)
            .catch((compErr: unknown) => log.error('could not remove the secret again', { error: String(compErr) })),
        );
      }
      throw err;
    }

    step = 'done';
    return { name: recorded.name, version: recorded.version, deleted, updatedAt: recorded.updatedAt };
  } catch (err) {
    throw rootCauseFailure(err);
  }
}

/** The activity's own failure, so the workflow's failure says what went wrong, not "activity failed". */
