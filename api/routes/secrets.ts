import { Hono } from 'hono';
import { z } from 'zod';
import { Id, PutSecretBody, UserSecretName } from '../../lib/contracts/index.js';
import type { AuthedEnv } from '../../lib/http/middleware.js';
import { validate } from '../../lib/http/validate.js';
import type { ApiDeps } from '../deps.js';
import { changeSecret } from '../orchestrate.js';

const AgentParam = z.object({ agentId: Id });
const SecretParam = z.object({ agentId: Id, name: UserSecretName });

/**
 * `/v1/agents/:agentId/secrets`: write-only secrets. Names and versions can be read back,
 * values never. A change is applied at the agent's runtime by a workflow; the answer is the
 * recorded version (200/204), or 202 with the workflow when it takes longer than the wait.
 * `Idempotency-Key` is not taken here: its stored request hash would be a hash of the value.
 * Setting the same name again is itself idempotent in effect.
 */
export function secretRoutes(deps: ApiDeps) {
  const { store } = deps;
  return new Hono<AuthedEnv>()
    .get('/agents/:agentId/secrets', validate('param', AgentParam), async (c) => {
      const { agentId } = c.req.valid('param');
      const items = await store.listSecretMetadata(c.get('userId'), agentId);
      return c.json({ items: items.map(({ name, version, updatedAt }) => ({ name, version, updatedAt })) });
    })
    .put(
      '/agents/:agentId/secrets/:name',
      validate('param', SecretParam),
      validate('json', PutSecretBody),
      async (c) => {
        const { agentId, name } = c.req.valid('param');
        const userId = c.get('userId');
        const outcome = await changeSecret(deps, {
          ownerId: userId,
          agentId,
          name,
          value: c.req.valid('json').value,
          actor: `user:${userId}`,
        });
        if (outcome.state === 'pending') {
          return c.json({ name, version: outcome.version, workflowId: outcome.workflowId, status: 'pending' }, 202);
        }
        const { version, updatedAt } = outcome.result;
        return c.json({ name, version, updatedAt }, 200);
      },
    )
    .delete('/agents/:agentId/secrets/:name', validate('param', SecretParam), async (c) => {
      const { agentId, name } = c.req.valid('param');
      const userId = c.get('userId');
      const outcome = await changeSecret(deps, {
        ownerId: userId,
        agentId,
        name,
        value: null,
        actor: `user:${userId}`,
      });
      if (outcome.state === 'pending') {
        return c.json({ name, version: outcome.version, workflowId: outcome.workflowId, status: 'pending' }, 202);
      }
      return c.body(null, 204);
    });
}
