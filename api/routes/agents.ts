import { Hono } from 'hono';
import { z } from 'zod';
import { CreateAgentBody, Id, PageQuery, UpdateAgentBody } from '../../lib/contracts/index.js';
import { newId } from '../../lib/ids.js';
import type { AuthedEnv } from '../../lib/http/middleware.js';
import { validate } from '../../lib/http/validate.js';
import type { ApiDeps } from '../deps.js';
import { deleteAgent } from '../orchestrate.js';
import { idempotency } from '../../lib/http/idempotency.js';
import { requireRuntime } from '../../lib/runtime/availability.js';
import { agentLimitError, maxAgentsOf, requireRuntimeEntitlement } from '../entitlements.js';

const AgentParam = z.object({ agentId: Id });

/** `/v1/agents`: create, read, list, rename and delete agents. */
export function agentRoutes(deps: ApiDeps) {
  const { store } = deps;
  return (
    new Hono<AuthedEnv>()
      .post('/', idempotency(store), validate('json', CreateAgentBody), async (c) => {
        const body = c.req.valid('json');
        const ownerId = c.get('userId');
        requireRuntime(body.runtime, deps.deployableRuntimes);
        const user = await requireRuntimeEntitlement(store, ownerId, body.runtime);
        const max = maxAgentsOf(user.tier);
        const id = newId('agt');
        const agent = await store
          .createAgent({
            id,
            ownerId,
            now: new Date(),
            ...body,
            ...(max === undefined ? {} : { maxAgents: max }),
            audit: agentNote(ownerId, 'agent.created', id, { name: body.name, runtime: body.runtime }),
          })
          .catch((err: unknown) => {
            throw agentLimitError(user.tier, err);
          });
        return c.json(agent, 201);
      })
      .get('/', validate('query', PageQuery), async (c) =>
        c.json(await store.listAgents(c.get('userId'), c.req.valid('query'))),
      )
      .get('/:agentId', validate('param', AgentParam), async (c) =>
        c.json(await store.getAgent(c.get('userId'), c.req.valid('param').agentId)),
      )
      .patch('/:agentId', validate('param', AgentParam), validate('json', UpdateAgentBody), async (c) => {
        const { agentId } = c.req.valid('param');
        const body = c.req.valid('json');
        const ownerId = c.get('userId');
        // The runtime is checked before anything changes; a rename and a move are applied in turn.
        if (body.runtime) {
          requireRuntime(body.runtime, deps.deployableRuntimes);
          await requireRuntimeEntitlement(store, ownerId, body.runtime);
        }
        let agent = await store.getAgent(ownerId, agentId);
        if (body.name && body.name !== agent.name) {
          agent = await store.renameAgent({
            ownerId,
            agentId,
            name: body.name,
            now: new Date(),
            audit: agentNote(ownerId, 'agent.renamed', agentId, { from: agent.name, to: body.name }),
          });
        }
        if (body.runtime && body.runtime !== agent.runtime) {
          agent = await store.setAgentRuntime({
            ownerId,
            agentId,
            runtime: body.runtime,
            now: new Date(),
            audit: agentNote(ownerId, 'agent.runtime_changed', agentId, { from: agent.runtime, to: body.runtime }),
          });
        }
        return c.json(agent);
      })
      // 202: the agent stops serving at once; `delete-<agentId>` tears down what it holds at its runtimes.
      // Deleting a deleted agent runs the teardown again: 202 as well.
      .delete('/:agentId', validate('param', AgentParam), async (c) => {
        const userId = c.get('userId');
        const { agent, workflowId } = await deleteAgent(deps, {
          ownerId: userId,
          agentId: c.req.valid('param').agentId,
          actor: `user:${userId}`,
        });
        return c.json({ ...agent, workflowId }, 202);
      })
  );
}

/** The audit entry of a user's change to one of their agents, written with the change. */
const agentNote = (userId: string, action: string, agentId: string, details: Record<string, unknown>) => ({
  actor: `user:${userId}`,
  action,
  targetType: 'agent',
  targetId: agentId,
  details,
});
