import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import { AppError, type DeploymentStatus, type DeployStep, type Runtime, type StepLogEntry } from '../lib/contracts/index.js';
import { BuildError, bundleFiles } from '../lib/build/bundle.js';
import { ProviderError, type RuntimeProvider } from '../lib/runtime/provider.js';
import type { ArtifactStore } from '../lib/artifacts/index.js';
import type { Store } from '../lib/store/index.js';

export interface DeployActivityDeps {
  store: Store;
  artifacts: ArtifactStore;
  /** The provider of each runtime this platform can deploy to. */
  providers: Partial<Record<Runtime, RuntimeProvider>>;
}

export interface DeploymentRef {
  ownerId: string;
  agentId: string;
  deploymentId: string;
}

/**
 * Activities of the deploy workflow. Each is safe to retry: store transitions accept a
 * repeat of the transition that already happened, providers are idempotent on
 * (agent, deployment), and bundling is a pure function of the stored source.
 */
export function createDeployActivities(deps: DeployActivityDeps) {
  const provider = (runtime: Runtime): RuntimeProvider => {
    const p = deps.providers[runtime];
    if (!p) throw ApplicationFailure.nonRetryable(`the ${runtime} runtime is not configured on this platform`, 'RuntimeUnavailable');
    return p;
  };

  return {
    /** Marks the deployment `building`, after checking its runtime can be deployed to. */
    async startDeployment(input: DeploymentRef & { runtime: Runtime; now: string }): Promise<void> {
      provider(input.runtime);
      await transition({ ...input, to: 'building', step: 'validate' });
    },

    /** Bundles the stored source with esbuild and stores the artifact; returns its digest. */
    async bundleSource(input: DeploymentRef): Promise<{ artifactDigest: string }> {
      const source = await storeCall(() => deps.store.getDeploymentSource(input.ownerId, input.deploymentId));
      heartbeat();
      try {
        return { artifactDigest: await deps.artifacts.put(await bundleFiles(source)) };
      } catch (err) {
        if (err instanceof BuildError) throw ApplicationFailure.nonRetryable(err.message, 'BuildFailed');
        throw err;
      }
    },

    async transitionDeployment(input: DeploymentRef & { to: DeploymentStatus; step?: DeployStep; now: string; artifactDigest?: string; error?: { code: string; message: string } }): Promise<void> {
      await transition(input);
    },

    async recordStep(input: DeploymentRef & { entry: StepLogEntry; providerRef?: string }): Promise<void> {
      await storeCall(() => deps.store.recordDeploymentStep({ ownerId: input.ownerId, deploymentId: input.deploymentId, entry: input.entry, ...(input.providerRef ? { providerRef: input.providerRef } : {}) }));
    },

    /** Uploads the artifact as a new immutable version (idempotent per deployment). */
    async createVersion(input: DeploymentRef & { runtime: Runtime; artifactDigest: string }): Promise<{ versionRef: string }> {
      const bundle = await deps.artifacts.get(input.artifactDigest);
      return providerCall(() => provider(input.runtime).deployVersion({ agentId: input.agentId, deploymentId: input.deploymentId, bundle }));
    },

    /** `GET /ping` on the new version; a failed check is retried by the activity's policy. */
    async healthCheck(input: { runtime: Runtime; versionRef: string }): Promise<void> {
      const result = await providerCall(() => provider(input.runtime).healthCheck({ versionRef: input.versionRef }));
      if (!result.ok) throw ApplicationFailure.retryable(result.detail, 'HealthCheckFailed');
    },

    async activateVersion(input: { runtime: Runtime; agentId: string; versionRef: string }): Promise<void> {
      await providerCall(() => provider(input.runtime).activateVersion({ agentId: input.agentId, versionRef: input.versionRef }));
    },

    async removeVersion(input: { runtime: Runtime; agentId: string; versionRef: string }): Promise<void> {
      await providerCall(() => provider(input.runtime).removeVersion({ agentId: input.agentId, versionRef: input.versionRef }));
    },

    /** The deployment serving the agent now, and its provider version. */
    async readServing(input: { ownerId: string; agentId: string }): Promise<{ deploymentId: string; runtime: Runtime; versionRef: string } | null> {
      const target = await storeCall(() => deps.store.getServingTarget(input.ownerId, input.agentId));
      return target.deployment ? { deploymentId: target.deployment.id, runtime: target.deployment.runtime, versionRef: target.deployment.providerRef } : null;
    },

    /** Compare-and-set of the agent's serving pointer. */
    async switchActive(input: { ownerId: string; agentId: string; expected: string | null; next: string | null; now: string }): Promise<{ switched: boolean }> {
      const switched = await storeCall(() => deps.store.switchActiveDeployment({ ...input, now: new Date(input.now) }));
      return { switched };
    },
  };

  async function transition(input: DeploymentRef & { to: DeploymentStatus; step?: DeployStep; now: string; artifactDigest?: string; error?: { code: string; message: string } }) {
    await storeCall(() =>
      deps.store.transitionDeployment({
        ownerId: input.ownerId,
        deploymentId: input.deploymentId,
        to: input.to,
        now: new Date(input.now),
        ...(input.step ? { step: input.step } : {}),
        ...(input.artifactDigest ? { artifactDigest: input.artifactDigest } : {}),
        ...(input.error ? { error: input.error } : {}),
      }),
    );
  }
}

/** Failure types for what the store refuses; all are in the workflow's PERMANENT_FAILURES. */
const STORE_REFUSALS: Partial<Record<AppError['code'], string>> = { not_found: 'NotFound', conflict: 'DeploymentConflict', validation_failed: 'InvalidInput' };

/** Store errors that retrying cannot fix become non-retryable; anything else is retried. */
async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AppError) throw ApplicationFailure.nonRetryable(err.message, STORE_REFUSALS[err.code] ?? 'StoreRefused');
    throw err;
  }
}

async function providerCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ProviderError) {
      throw err.kind === 'permanent' ? ApplicationFailure.nonRetryable(err.message, err.type) : ApplicationFailure.retryable(err.message, err.type);
    }
    throw err;
  }
}
