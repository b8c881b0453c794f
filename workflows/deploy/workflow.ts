import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import type { DeploymentStatus, DeployStep } from '../../lib/contracts/index.js';
import { DeploymentErrorCode, PERMANENT_FAILURES as PERMANENT, PermanentFailure } from '../failures.js';
import { rootCause } from '../causes.js';
import { BUILD_QUEUE_PATCH, buildTaskQueueFor, DEFAULT_HEALTH_CHECK, LOCAL_STORE_PATCH } from './config.js';
import { progressQuery, type DeployInput, type DeployResult } from './messages.js';
import { WEBHOOKS_PATCH } from '../webhooks/config.js';
import { emitWebhookEvent } from '../webhooks/emit.js';

// Store writes are small and local; a failure is a blip of the database, so retry quickly
// and for a while before the workflow gives up on the step. They run as local activities (in
// the workflow's own task, with no round trip through a task queue), except in deployments
// recorded before that (LOCAL_STORE_PATCH).
const STORE_OPTIONS = {
  startToCloseTimeout: '15s',
  retry: {
    initialInterval: '250ms',
    backoffCoefficient: 2,
    maximumInterval: '10s',
    maximumAttempts: 20,
    nonRetryableErrorTypes: PERMANENT,
  },
} as const;
const localStore = proxyLocalActivities<Activities>(STORE_OPTIONS);
const remoteStore = proxyActivities<Activities>(STORE_OPTIONS);

// Bundling runs esbuild on the user's source in a process of its own, held to the build
// limits (time, memory, size): CPU-bound, so it heartbeats. A build error is permanent
// (non-retryable); a lost worker is retried. Builds run on their own queue, whose workers
// take only as many at once as the machine allows; a deploy waits its turn there for up to
// half an hour (schedule-to-close).
const BUILD_OPTIONS = {
  startToCloseTimeout: '5m',
  scheduleToCloseTimeout: '30m',
  // a build beats several times a second (its sampler), so a dead worker's build is retried in seconds
  heartbeatTimeout: '20s',
  retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: PERMANENT },
} as const;
/** Deployments recorded before builds had their own queue replay with this one. */
const buildOnDeployQueue = proxyActivities<Activities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: PERMANENT },
});

// Provider control-plane calls: network to a runtime that may be slow or briefly down;
// starting a version can take seconds. Every call is idempotent per (agent, deployment).
const provider = proxyActivities<Activities>({
  startToCloseTimeout: '2m',
  // a worker that died mid-call is noticed in seconds: providerCall heartbeats every 5 s
  heartbeatTimeout: '20s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 10,
    nonRetryableErrorTypes: PERMANENT,
  },
});

/**
 * deploy-<deploymentId>: bundle → create a new immutable version → health check → activate
 * → switch the agent's pointer by compare-and-set → mark live. Any failure after a step
 * with a side effect runs the compensations of the steps done, in reverse, so the previous
 * deployment keeps serving, and marks the deployment failed (or canceled) with the reason.
 */
export async function deployWorkflow(input: DeployInput): Promise<DeployResult> {
  // Patches are decided here, before the first command: a patched() call made after a local
  // activity may not meet its marker in the same workflow task when another worker replays the
  // workflow, which fails it as nondeterministic (the worker-kill fault suite met it). Deploys
  // from before the local-store patch decided the build queue after their first (remote)
  // activity, and still do.
  const localStorePatched = patched(LOCAL_STORE_PATCH);
  const store = localStorePatched ? localStore : remoteStore;
  const buildsOnBuildQueueEarly = localStorePatched ? patched(BUILD_QUEUE_PATCH) : undefined;
  const sendsWebhooks = patched(WEBHOOKS_PATCH);
  const ref = { ownerId: input.ownerId, agentId: input.agentId, deploymentId: input.deploymentId };
  const hc = input.healthCheck ?? DEFAULT_HEALTH_CHECK;
  const health = proxyActivities<Activities>({
    startToCloseTimeout: '15s',
    retry: {
      initialInterval: hc.initialIntervalMs,
      backoffCoefficient: 2,
      maximumAttempts: hc.attempts,
      nonRetryableErrorTypes: PERMANENT,
    },
  });

  let status: DeploymentStatus = 'queued';
  let step: DeployStep = 'validate';
  const completedSteps: DeployStep[] = [];
  setHandler(progressQuery, () => ({
    deploymentId: input.deploymentId,
    status,
    step,
    completedSteps: [...completedSteps],
  }));
  const now = () => new Date().toISOString();
  const done = (s: DeployStep) => completedSteps.push(s);
  /** The audit entry of the deploy's outcome, written with the deployment's final status. */
  const outcome = (action: string, details: Record<string, unknown>) => ({
    actor: input.actor ?? 'platform',
    action,
    targetType: 'deployment',
    targetId: input.deploymentId,
    details: { agentId: input.agentId, ...details },
  });

  const compensations: { step: string; run: () => Promise<unknown> }[] = [];
  try {
    await store.startDeployment({ ...ref, runtime: input.runtime, now: now() });
    status = 'building';
    done('validate');

    step = 'bundle';
    const build =
      (buildsOnBuildQueueEarly ?? patched(BUILD_QUEUE_PATCH))
        ? proxyActivities<Activities>({
            ...BUILD_OPTIONS,
            taskQueue: buildTaskQueueFor(workflowInfo().taskQueue),
            // each tenant gets its share of the build queue, however many builds another has queued
            priority: { fairnessKey: input.ownerId },
          })
        : buildOnDeployQueue;
    const { artifactDigest } = await build.bundleSource(ref);
    await store.transitionDeployment({ ...ref, to: 'deploying', step: 'bundle', artifactDigest, now: now() });
    status = 'deploying';
    done('bundle');

    // Read before any side effect: this is what compensation restores.
    const previous = await store.readServing(ref);

    step = 'create_version';
    const { versionRef } = await provider.createVersion({ ...ref, runtime: input.runtime, artifactDigest });
    compensations.unshift({
      step: 'remove new version',
      run: () => provider.removeVersion({ runtime: input.runtime, agentId: input.agentId, versionRef }),
    });
    await store.recordStep({ ...ref, entry: { step, status: 'succeeded', at: now() }, providerRef: versionRef });
    done('create_version');

    step = 'health_check';
    await health.healthCheck({ runtime: input.runtime, versionRef });
    await store.recordStep({ ...ref, entry: { step, status: 'succeeded', at: now() } });
    done('health_check');

    step = 'activate';
    await provider.activateVersion({ runtime: input.runtime, agentId: input.agentId, versionRef });
    if (previous) {
      compensations.unshift({
        step: 'reactivate previous version',
        run: () =>
          provider.activateVersion({
            runtime: previous.runtime,
            agentId: input.agentId,
            versionRef: previous.versionRef,
          }),
      });
    }
    const expected = previous?.deploymentId ?? null;
    const { switched } = await store.switchActive({ ...ref, expected, next: input.deploymentId, now: now() });
    if (!switched) {
      throw ApplicationFailure.nonRetryable(
        'the agent’s active deployment changed while this deploy ran',
        PermanentFailure.ActivePointerConflict,
      );
    }
    compensations.unshift({
      step: 'restore active pointer',
      run: () => store.switchActive({ ...ref, expected: input.deploymentId, next: expected, now: now() }),
    });
    done('activate');

    step = 'mark_live';
    await store.transitionDeployment({
      ...ref,
      to: 'live',
      step: 'mark_live',
      now: now(),
      audit: outcome('deployment.live', { versionRef }),
    });
    status = 'live';
    done('mark_live');
    if (sendsWebhooks) {
      // live already: nothing below may cancel or fail the deploy
      await CancellationScope.nonCancellable(() =>
        emitWebhookEvent({
          ...ref,
          type: 'deployment.live',
          data: { runtime: input.runtime },
          ...(input.webhookRetry ? { retry: input.webhookRetry } : {}),
        }),
      );
    }
    return { deploymentId: input.deploymentId, versionRef, artifactDigest };
  } catch (err) {
    const canceled = isCancellation(err);
    const failedStep = step;
    step = 'compensate';
    await CancellationScope.nonCancellable(async () => {
      for (const c of compensations) {
        try {
          await c.run();
        } catch (compErr) {
          // Keep going: the remaining compensations and the final status matter more.
          log.error('compensation failed', { step: c.step, error: String(compErr) });
        }
      }
      const error = {
        code: canceled ? DeploymentErrorCode.Canceled : failureCode(err),
        message: `${failedStep}: ${failureMessage(err)}`,
      };
      await store.transitionDeployment({
        ...ref,
        to: canceled ? 'canceled' : 'failed',
        step: failedStep,
        error,
        now: now(),
        audit: outcome(canceled ? 'deployment.canceled' : 'deployment.failed', { step: failedStep, code: error.code }),
      });
      status = canceled ? 'canceled' : 'failed';
      if (!canceled && sendsWebhooks) {
        await emitWebhookEvent({
          ...ref,
          type: 'deployment.failed',
          data: { runtime: input.runtime, step: failedStep, error },
          ...(input.webhookRetry ? { retry: input.webhookRetry } : {}),
        });
      }
    });
    throw err;
  }
}

function failureCode(err: unknown): string {
  const e = rootCause(err);
  return e instanceof ApplicationFailure && e.type ? e.type : DeploymentErrorCode.Internal;
}

function failureMessage(err: unknown): string {
  const e = rootCause(err);
  return e instanceof Error ? e.message : String(e);
}
