import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import type { ArtifactStore } from '../lib/artifacts/index.js';
import { BuildError } from '../lib/build/bundle.js';
import { buildContained } from '../lib/build/contained.js';
import { BuildSlots } from '../lib/build/slots.js';
import { DEFAULT_LIMITS, type BuildLimits } from '../lib/limits.js';
import type { Store } from '../lib/store/index.js';
import { PermanentFailure } from '../workflows/failures.js';
import { storeCall } from './calls.js';
import type { DeploymentRef } from './deployments.js';

export interface BuildActivityDeps {
  store: Store;
  artifacts: ArtifactStore;
  /** Time, memory and size of one build, and how many run at once (lib/limits.ts). */
  buildLimits?: BuildLimits;
}

/** How often a build waiting for its slot tells Temporal it is still alive. */
const WAITING_HEARTBEAT_MS = 5_000;

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
  const slots = new BuildSlots(limits.concurrency);
  return {
    /**
     * Bundles the stored source, in a process of its own that the source can crash or hang
     * without harm to anyone else, and stores the artifact; returns its digest.
     */
    async bundleSource(input: BundleSourceInput): Promise<BundleSourceResult> {
      const source = await storeCall(() => deps.store.getDeploymentSource(input.ownerId, input.deploymentId));
      const { cancellationSignal } = Context.current();
      heartbeat();
      // A fair share of this worker's build slots: another owner's builds never hold them all.
      const waiting = setInterval(() => heartbeat(), WAITING_HEARTBEAT_MS);
      let release: () => void;
      try {
        release = await slots.acquire(input.ownerId, cancellationSignal);
      } finally {
        clearInterval(waiting);
      }
      try {
        const bundle = await buildContained(source, limits, {
          signal: cancellationSignal,
          onProgress: () => heartbeat(),
        });
        return { artifactDigest: await deps.artifacts.put(bundle) };
      } catch (err) {
        if (err instanceof BuildError) throw ApplicationFailure.nonRetryable(err.message, PermanentFailure.BuildFailed);
        throw err;
      } finally {
        release();
      }
    },
  };
}
