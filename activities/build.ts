import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import type { ArtifactStore } from '../lib/artifacts/index.js';
import { BuildError } from '../lib/build/bundle.js';
import { buildContained } from '../lib/build/contained.js';
import { DEFAULT_LIMITS, type BuildLimits } from '../lib/limits.js';
import type { Store } from '../lib/store/index.js';
import { PermanentFailure } from '../workflows/failures.js';
import { storeCall } from './calls.js';
import type { DeploymentRef } from './deployments.js';

export interface BuildActivityDeps {
  store: Store;
  artifacts: ArtifactStore;
  /** Time, memory and size of one build (lib/limits.ts). */
  buildLimits?: BuildLimits;
}

export type BundleSourceInput = DeploymentRef;

export interface BundleSourceResult {
  /** The content address of the built artifact; workflows pass this, never the code. */
  artifactDigest: string;
}

/**
 * Building a deployment's source. Safe to retry: a bundle is a pure function of the stored
 * source, and the artifact store is content-addressed, so a repeat writes the same artifact.
 */
export function createBuildActivities(deps: BuildActivityDeps) {
  const limits = deps.buildLimits ?? DEFAULT_LIMITS.build;
  return {
    /**
     * Bundles the stored source, in a process of its own that the source can crash or hang
     * without harm to anyone else, and stores the artifact; returns its digest.
     */
    async bundleSource(input: BundleSourceInput): Promise<BundleSourceResult> {
      const source = await storeCall(() => deps.store.getDeploymentSource(input.ownerId, input.deploymentId));
      heartbeat();
      try {
        const bundle = await buildContained(source, limits, {
          signal: Context.current().cancellationSignal,
          onProgress: () => heartbeat(),
        });
        return { artifactDigest: await deps.artifacts.put(bundle) };
      } catch (err) {
        if (err instanceof BuildError) throw ApplicationFailure.nonRetryable(err.message, PermanentFailure.BuildFailed);
        throw err;
      }
    },
  };
}
