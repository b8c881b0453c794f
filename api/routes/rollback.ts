import { Hono } from 'hono';
import { z } from 'zod';
import { Id, RollbackBody } from '../../lib/contracts/index.js';
import { idempotency } from '../../lib/http/idempotency.js';
import type { AuthedEnv } from '../../lib/http/middleware.js';
import { validate } from '../../lib/http/validate.js';
import type { ApiDeps } from '../deps.js';
import { rollbackAgent } from '../orchestrate.js';

/** `POST /v1/agents/:agentId/rollback { deploymentId }` → 202: serve an earlier live deployment again. */
export function rollbackRoutes(deps: ApiDeps) {
  return new Hono<AuthedEnv>().post(
    '/agents/:agentId/rollback',
    validate('param', z.object({ agentId: Id })),
    idempotency(deps.store),
    validate('json', RollbackBody),
    async (c) => {
      const userId = c.get('userId');
      const { deploymentId } = c.req.valid('json');
      const { workflowId } = await rollbackAgent(deps, {
        ownerId: userId,
        agentId: c.req.valid('param').agentId,
        deploymentId,
        actor: `user:${userId}`,
      });
      return c.json({ workflowId, deploymentId }, 202);
    },
  );
}
