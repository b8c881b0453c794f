import { ApplicationFailure } from '@temporalio/activity';
import type { ArtifactStore } from '../lib/artifacts/index.js';
import type { Runtime } from '../lib/contracts/index.js';
import type { RuntimeProvider } from '../lib/runtime/provider.js';
import { RetryableFailure } from '../workflows/failures.js';
import { providerCall, requireProvider } from './calls.js';
import type { DeploymentRef } from './deployments.js';

export interface RuntimeActivityDeps {
  artifacts: ArtifactStore;
  /** The provider of each runtime this platform can deploy to. */
  providers: Partial<Record<Runtime, RuntimeProvider>>;
}

export interface CreateVersionInput extends DeploymentRef {
  runtime: Runtime;
  artifactDigest: string;
}

export interface CreateVersionResult {
  versionRef: string;
}

export interface VersionInput {
  runtime: Runtime;
  agentId: string;
  versionRef: string;
}

export interface HealthCheckInput {
  runtime: Runtime;
  versionRef: string;
}

export interface HealthCheckResult {
  status: number | null;
  detail: string;
}

export interface VersionResult {
  versionRef: string;
}

export interface DestroyAgentRuntimeInput {
  runtime: Runtime;
  agentId: string;
}

export interface DestroyAgentRuntimeResult {
  agentId: string;
}

/**
 * Runtime provider activities of the deploy workflow. Each is safe to retry: providers are
 * idempotent per (agent, deployment) on upload, activating the active version or removing a
 * removed one succeeds, and a health check only reads.
 */
export function createRuntimeActivities(deps: RuntimeActivityDeps) {
  const provider = (runtime: Runtime): RuntimeProvider => requireProvider(deps.providers, runtime);

  return {
    /** Uploads the artifact as a new immutable version (idempotent per deployment). */
    async createVersion(input: CreateVersionInput): Promise<CreateVersionResult> {
      const bundle = await deps.artifacts.get(input.artifactDigest);
      return providerCall(() =>
        provider(input.runtime).deployVersion({ agentId: input.agentId, deploymentId: input.deploymentId, bundle }),
      );
    },

    /** `GET /ping` on the new version; a failed check is retried by the activity's policy. */
    async healthCheck(input: HealthCheckInput): Promise<HealthCheckResult> {
      const result = await providerCall(() => provider(input.runtime).healthCheck({ versionRef: input.versionRef }));
      if (!result.ok) throw ApplicationFailure.retryable(result.detail, RetryableFailure.HealthCheckFailed);
      return { status: result.status, detail: result.detail };
    },

    /** Makes the version the one the runtime serves for the agent. */
    async activateVersion(input: VersionInput): Promise<VersionResult> {
      await providerCall(() =>
        provider(input.runtime).activateVersion({ agentId: input.agentId, versionRef: input.versionRef }),
      );
      return { versionRef: input.versionRef };
    },

    /** Destroys every version, process, secret and stored state of the agent at its runtime; again is harmless. */
    async destroyAgentRuntime(input: DestroyAgentRuntimeInput): Promise<DestroyAgentRuntimeResult> {
      await providerCall(() => provider(input.runtime).destroyAgent({ agentId: input.agentId }));
      return { agentId: input.agentId };
    },

    /** Deletes the version (a compensation); deleting a deleted one succeeds. */
    async removeVersion(input: VersionInput): Promise<VersionResult> {
      await providerCall(() =>
        provider(input.runtime).removeVersion({ agentId: input.agentId, versionRef: input.versionRef }),
      );
      return { versionRef: input.versionRef };
    },
  };
}
