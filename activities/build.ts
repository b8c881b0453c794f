import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import type { ArtifactStore } from '../lib/artifacts/index.js';
import { buildContained } from '../lib/build/contained.js';
import { BuildError } from '../lib/build/errors.js';
import { BuildSlots } from '../lib/build/slots.js';
import { buildConfigFromEnv, type BuildConfig } from '../lib/config.js';
import type { Framework } from '../lib/contracts/index.js';
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
  /** Where builds work and cache dependencies, and which file:// git sources they may read (lib/config.ts); from the environment when absent. */
  buildConfig?: BuildConfig;
  /** The command that runs npm; found on PATH when absent. */
  npm?: readonly string[];
}

/** How often a build waiting for its slot tells Temporal it is still alive. */
const WAITING_HEARTBEAT_MS = 5_000;

export type BundleSourceInput = DeploymentRef;

export interface BundleSourceResult {
  /** The content address of the built artifact; workflows pass this, never the code. */
  artifactDigest: string;
  /** The framework the project is written with (absent in histories recorded before it was detected). */
  framework?: Framework;
  /** The commit a git source was built from. */
  commitSha?: string;
  /** Whether its dependencies came from npm, from the dependency cache, or were not needed. */
  dependencies?: 'none' | 'cache' | 'npm';
}

/**
 * Building a deployment's source. Safe to retry: a bundle is a pure function of the stored
 * source, and the artifact store is content-addressed, so a repeat writes the same artifact.
 */
export function createBuildActivities(deps: BuildActivityDeps) {
  const limits = deps.buildLimits ?? DEFAULT_LIMITS.build;
  const slots = new BuildSlots(limits.concurrency);
  const config = deps.buildConfig ?? buildConfigFromEnv();
  return {
    /**
     * Builds the stored source (fetches a git source, installs its dependencies, bundles it
     * for the runtime), in a process of its own that the source can crash or hang without
     * harm to anyone else, and stores the artifact; returns its digest, the detected
     * framework and, for git, the commit, which it also records on the deployment (a write
     * that a retry repeats with the same values, or a moved branch's new commit). A git ref is resolved again on a retry, so a
     * branch that moved in between builds its new commit, and says so in `commitSha`.
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
        const built = await buildContained(source, limits, {
          signal: cancellationSignal,
          onProgress: () => heartbeat(),
          config,
          ...(deps.npm ? { npm: deps.npm } : {}),
        });
        const artifactDigest = await deps.artifacts.put(built.bundle);
        await storeCall(() =>
          deps.store.recordDeploymentBuild({
            ownerId: input.ownerId,
            deploymentId: input.deploymentId,
            framework: built.framework,
            ...(built.commitSha ? { commitSha: built.commitSha } : {}),
          }),
        );
        return {
          artifactDigest,
          framework: built.framework,
          ...(built.commitSha ? { commitSha: built.commitSha } : {}),
          dependencies: built.dependencies,
        };
      } catch (err) {
        if (err instanceof BuildError) throw ApplicationFailure.nonRetryable(err.message, PermanentFailure.BuildFailed);
        throw err;
      } finally {
        release();
      }
    },
  };
}
