import { Hono } from 'hono';
import { z } from 'zod';
import { gitUrlRefusal } from '../../lib/build/git.js';
import { gitLocalRootsFromEnv } from '../../lib/config.js';
import {
  AppError,
  CreateDeploymentBody,
  Id,
  isFinal,
  PageQuery,
  type DeploymentSource,
} from '../../lib/contracts/index.js';
import type { AuthedEnv } from '../../lib/http/middleware.js';
import { validate } from '../../lib/http/validate.js';
import type { ApiDeps } from '../deps.js';
import { idempotency } from '../../lib/http/idempotency.js';
import { reconcileDeployment, startDeployment } from '../orchestrate.js';

/** `/v1/agents/:agentId/deployments` (deploy, list) and `/v1/deployments/:deploymentId` (status, steps, progress). */
export function deploymentRoutes(deps: ApiDeps) {
  const { store } = deps;
  // file:// git sources: only from the folders the operator allows (the build checks again)
  const gitLocalRoots = gitLocalRootsFromEnv();
  return new Hono<AuthedEnv>()
    .post(
      '/agents/:agentId/deployments',
      validate('param', z.object({ agentId: Id })),
      idempotency(store),
      validate('json', CreateDeploymentBody),
      async (c) => {
        const { source } = c.req.valid('json');
        await refuseUnbuildable(deps, c.get('userId'), c.req.valid('param').agentId, source, gitLocalRoots);
        const deployment = await startDeployment(deps, {
          ownerId: c.get('userId'),
          agentId: c.req.valid('param').agentId,
          source,
        });
        return c.json(
          {
            deploymentId: deployment.id,
            workflowId: deployment.workflowId,
            status: deployment.status,
            version: deployment.version,
          },
          202,
        );
      },
    )
    .get(
      '/agents/:agentId/deployments',
      validate('param', z.object({ agentId: Id })),
      validate('query', PageQuery),
      async (c) =>
        c.json(await store.listDeployments(c.get('userId'), c.req.valid('param').agentId, c.req.valid('query'))),
    )
    .get('/deployments/:deploymentId', validate('param', z.object({ deploymentId: Id })), async (c) => {
      const stored = await store.getDeployment(c.get('userId'), c.req.valid('param').deploymentId);
      // A deployment whose workflow ended without finishing it is marked failed here.
      const deployment = isFinal(stored.status) ? stored : await reconcileDeployment(deps, stored);
      // While it runs, the workflow knows the current step before the store does.
      const progress = isFinal(deployment.status) ? null : await deps.workflows.deployProgress(deployment.workflowId);
      return c.json({ ...deployment, currentStep: progress?.step ?? null });
    });
}

/**
 * What the api can tell about a source before anything is recorded: a `file://` git URL outside
 * the allowed folders, an image source for a runtime that runs no images. The rest (a ref that
 * does not exist, a package that will not install) is known only when it builds.
 */
async function refuseUnbuildable(
  deps: ApiDeps,
  ownerId: string,
  agentId: string,
  source: DeploymentSource,
  gitLocalRoots: readonly string[],
): Promise<void> {
  if (source.type === 'git') {
    const refusal = gitUrlRefusal(source.url, gitLocalRoots);
    if (refusal)
      throw new AppError('validation_failed', `source.url: ${refusal}`, [{ path: 'source.url', message: refusal }]);
  }
  if (source.type === 'image') {
    const agent = await deps.store.getAgent(ownerId, agentId);
    if (agent.runtime !== 'agentcore') {
      const message = `image sources deploy only to the agentcore runtime; this agent runs on ${agent.runtime} (deploy files or git)`;
      throw new AppError('validation_failed', `source.type: ${message}`, [{ path: 'source.type', message }]);
    }
  }
}
