import { Hono } from 'hono';
import { z } from 'zod';
import { Id, isFinal } from '../../lib/contracts/index.js';
import type { AuthedEnv } from '../../lib/http/middleware.js';
import { validate } from '../../lib/http/validate.js';
import type { ApiDeps } from '../deps.js';

export function deploymentRoutes(deps: ApiDeps) {
  return new Hono<AuthedEnv>().get('/:deploymentId', validate('param', z.object({ deploymentId: Id })), async (c) => {
    const deployment = await deps.store.getDeployment(c.get('userId'), c.req.valid('param').deploymentId);
    // While it runs, the workflow knows the current step before the store does.
    const progress = isFinal(deployment.status) ? null : await deps.workflows.deployProgress(deployment.workflowId);
    return c.json({ ...deployment, currentStep: progress?.step ?? null });
  });
}
