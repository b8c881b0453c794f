import { ApplicationFailure } from '@temporalio/activity';
import {
  rollbackRefusal,
  type DeploymentStatus,
  type DeployStep,
  type Runtime,
  type StepLogEntry,
} from '../lib/contracts/index.js';
import type { RuntimeProvider } from '../lib/runtime/provider.js';
import type { Store } from '../lib/store/index.js';
import type { AuditNote } from '../lib/store/port/audit.js';
import { PermanentFailure } from '../workflows/failures.js';
import { storeCall } from './calls.js';

export interface DeploymentActivityDeps {
  store: Store;
  /** The provider of each runtime this platform can deploy to. */
  providers: Partial<Record<Runtime, RuntimeProvider>>;
}

export interface DeploymentRef {
  ownerId: string;
  agentId: string;
  deploymentId: string;
}

export interface StartDeploymentInput extends DeploymentRef {
  runtime: Runtime;
  /** When, as the workflow saw it (workflow time, so a replay records the same). */
  now: string;
}

export interface TransitionDeploymentInput extends DeploymentRef {
  to: DeploymentStatus;
  step?: DeployStep;
  now: string;
  artifactDigest?: string;
  error?: { code: string; message: string };
  /** Written with the transition (same transaction), if it happens. */
  audit?: AuditNote;
}

/** The deployment's status once the call returned. */
export interface DeploymentStatusResult {
  status: DeploymentStatus;
}

export interface RecordStepInput extends DeploymentRef {
  entry: StepLogEntry;
  providerRef?: string;
}

export interface RecordStepResult {
  recordedAt: string;
}

export interface ReadServingInput {
  ownerId: string;
  agentId: string;
}

/** The deployment serving an agent and its provider version; null when none serves. */
export type ReadServingResult = { deploymentId: string; runtime: Runtime; versionRef: string } | null;

export interface SwitchActiveInput {
  ownerId: string;
  agentId: string;
  expected: string | null;
  next: string | null;
  now: string;
  /** Written with the switch (same transaction), if it happens. */
  audit?: AuditNote;
}

export interface SwitchActiveResult {
  switched: boolean;
}

export type ReadRollbackTargetInput = DeploymentRef;

export interface ReadRollbackTargetResult {
  runtime: Runtime;
  versionRef: string;
  /** What serves now: what a failed rollback restores. */
  serving: ReadServingResult;
}

export interface EndRollbackInput {
  ownerId: string;
  agentId: string;
  workflowId: string;
  now: string;
}

export interface EndRollbackResult {
  workflowId: string;
}

/**
 * Store activities of the deploy workflow: the deployment's lifecycle and the agent's
 * serving pointer. Each is safe to retry: the store accepts a repeat of the transition that
 * already happened and of a step already logged, and a pointer already switched counts as
 * switched.
 */
export function createDeploymentActivities(deps: DeploymentActivityDeps) {
  const transition = async (input: TransitionDeploymentInput): Promise<DeploymentStatusResult> => {
    const deployment = await storeCall(() =>
      deps.store.transitionDeployment({
        ownerId: input.ownerId,
        deploymentId: input.deploymentId,
        to: input.to,
        now: new Date(input.now),
        ...(input.step ? { step: input.step } : {}),
        ...(input.artifactDigest ? { artifactDigest: input.artifactDigest } : {}),
        ...(input.error ? { error: input.error } : {}),
        ...(input.audit ? { audit: input.audit } : {}),
      }),
    );
    return { status: deployment.status };
  };

  return {
    /** Marks the deployment `building`, after checking its runtime can be deployed to. */
    async startDeployment(input: StartDeploymentInput): Promise<DeploymentStatusResult> {
      if (!deps.providers[input.runtime]) {
        throw ApplicationFailure.nonRetryable(
          `the ${input.runtime} runtime is not configured on this platform`,
          PermanentFailure.RuntimeUnavailable,
        );
      }
      return transition({ ...input, to: 'building', step: 'validate' });
    },

    /** Moves the deployment along its lifecycle, logging the step that ended. */
    transitionDeployment: transition,

    /** Appends to the step log (and records the provider's version once known). */
    async recordStep(input: RecordStepInput): Promise<RecordStepResult> {
      await storeCall(() =>
        deps.store.recordDeploymentStep({
          ownerId: input.ownerId,
          deploymentId: input.deploymentId,
          entry: input.entry,
          ...(input.providerRef ? { providerRef: input.providerRef } : {}),
        }),
      );
      return { recordedAt: input.entry.at };
    },

    /**
     * The rollback's target, checked again where it cannot change under the check: the agent's
     * own deployment, one that reached `live`, with a version at its runtime. Read-only.
     */
    async readRollbackTarget(input: ReadRollbackTargetInput): Promise<ReadRollbackTargetResult> {
      const target = await storeCall(() => deps.store.getDeployment(input.ownerId, input.deploymentId));
      const refusal = rollbackRefusal(target, input.agentId);
      if (refusal) throw ApplicationFailure.nonRetryable(refusal, PermanentFailure.RollbackTargetInvalid);
      const { deployment } = await storeCall(() => deps.store.getServingTarget(input.ownerId, input.agentId));
      return {
        runtime: target.runtime,
        versionRef: target.providerRef!,
        serving: deployment
          ? { deploymentId: deployment.id, runtime: deployment.runtime, versionRef: deployment.providerRef }
          : null,
      };
    },

    /** Frees the agent's in-flight slot the rollback holds; again, or when another holds it, changes nothing. */
    async endRollback(input: EndRollbackInput): Promise<EndRollbackResult> {
      await storeCall(() => deps.store.endRollback({ ...input, now: new Date(input.now) }));
      return { workflowId: input.workflowId };
    },

    /** The deployment serving the agent now, and its provider version. Read-only. */
    async readServing(input: ReadServingInput): Promise<ReadServingResult> {
      const target = await storeCall(() => deps.store.getServingTarget(input.ownerId, input.agentId));
      const d = target.deployment;
      return d ? { deploymentId: d.id, runtime: d.runtime, versionRef: d.providerRef } : null;
    },

    /**
     * Compare-and-set of the agent's serving pointer. A retry after a switch that committed
     * finds the pointer at `next` already: that is this call's own switch, and counts.
     */
    async switchActive(input: SwitchActiveInput): Promise<SwitchActiveResult> {
      const now = new Date(input.now);
      const switched = await storeCall(() => deps.store.switchActiveDeployment({ ...input, now }));
      if (switched) return { switched };
      const { agent } = await storeCall(() => deps.store.getServingTarget(input.ownerId, input.agentId));
      return { switched: agent.activeDeploymentId === input.next };
    },
  };
}
