import { createDeployActivities, type DeployActivityDeps } from './deploy.js';

export type ActivityDeps = DeployActivityDeps;

/** Every activity the workers register, built from their dependencies (no globals). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createDeployActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
