import { Hono } from 'hono';
import { z } from 'zod';
import { CreateDeploymentBody, Id, isFinal, PageQuery } from '../../lib/contracts/index.js';
import type { AuthedEnv } from '../../lib/http/middleware.js';
import { validate } from '../../lib/http/validate.js';
import type { ApiDeps } from '../deps.js';
import { idempotency } from '../../lib/http/idempotency.js';
import { reconcileDeployment, startDeployment } from '../orchestrate.js';

/** `/v1/agents/:agentId/deployments` (deploy, list) and `/v1/deployments/:deploymentId` (status, steps, progress). */
export function deploymentRoutes(deps: ApiDeps) {
  const { store } = deps;
  return new Hono<AuthedEnv>()
    .post(
      '/agents/:agentId/deployments',
      validate('param', z.object({ agentId: Id })),
      idempotency(store),
      validate('json', CreateDeploymentBody),
      async (c) => {
        const deployment = await startDeployment(deps, {
          ownerId: c.get('userId'),
          agentId: c.req.valid('param').agentId,
          source: c.req.valid('json').source,
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
