import { Hono } from 'hono';
import { z } from 'zod';
import { AppError, CreateAgentBody, CreateDeploymentBody, Id, PageQuery, UpdateAgentBody } from '../../lib/contracts/index.js';
import { newId } from '../../lib/ids.js';
import type { AuthedEnv } from '../../lib/http/middleware.js';
import { validate } from '../../lib/http/validate.js';
import { deployWorkflowId } from '../../workflows/deploy/config.js';
import { DeploymentErrorCode } from '../../workflows/failures.js';
import { idempotency } from '../idempotency.js';
import type { ApiDeps } from '../deps.js';

const AgentParam = z.object({ agentId: Id });

export function agentRoutes(deps: ApiDeps) {
  const { store } = deps;
  return new Hono<AuthedEnv>()
    .post('/', idempotency(store), validate('json', CreateAgentBody), async (c) => {
      const agent = await store.createAgent({ id: newId('agt'), ownerId: c.get('userId'), now: new Date(), ...c.req.valid('json') });
      return c.json(agent, 201);
    })
    .get('/', validate('query', PageQuery), async (c) => c.json(await store.listAgents(c.get('userId'), c.req.valid('query'))))
    .get('/:agentId', validate('param', AgentParam), async (c) => c.json(await store.getAgent(c.get('userId'), c.req.valid('param').agentId)))
    .patch('/:agentId', validate('param', AgentParam), validate('json', UpdateAgentBody), async (c) => {
      const { agentId } = c.req.valid('param');
      const body = c.req.valid('json');
      const ownerId = c.get('userId');
      const agent = body.name ? await store.renameAgent({ ownerId, agentId, name: body.name, now: new Date() }) : await store.getAgent(ownerId, agentId);
      return c.json(agent);
    })
    .delete('/:agentId', validate('param', AgentParam), async (c) => {
      const agent = await store.deleteAgent({ ownerId: c.get('userId'), agentId: c.req.valid('param').agentId, now: new Date() });
      return c.json(agent);
    })
    .post('/:agentId/deployments', validate('param', AgentParam), idempotency(store), validate('json', CreateDeploymentBody), async (c) => {
      const ownerId = c.get('userId');
      const { agentId } = c.req.valid('param');
      const agent = await store.getAgent(ownerId, agentId);
      if (!deps.deployableRuntimes.includes(agent.runtime)) {
        throw new AppError('runtime_unavailable', `the ${agent.runtime} runtime is not available on this platform yet; create the agent with runtime "local"`);
      }
      const id = newId('dep');
      const workflowId = deployWorkflowId(id);
      const deployment = await store.createDeployment({ id, ownerId, agentId, workflowId, source: c.req.valid('json').source, now: new Date() });
      try {
        await deps.workflows.startDeploy({ deploymentId: id, agentId, ownerId, runtime: agent.runtime });
      } catch (err) {
        // Without its workflow the deployment would hold the agent's in-flight slot forever.
        await store.transitionDeployment({ ownerId, deploymentId: id, to: 'failed', now: new Date(), error: { code: DeploymentErrorCode.WorkflowStartFailed, message: 'the deploy workflow could not be started' } });
        deps.log.error({ err, deploymentId: id }, 'could not start deploy workflow');
        throw new AppError('internal', 'could not start the deploy; try again shortly');
      }
      return c.json({ deploymentId: id, workflowId, status: deployment.status, version: deployment.version }, 202);
    })
    .get('/:agentId/deployments', validate('param', AgentParam), validate('query', PageQuery), async (c) =>
      c.json(await store.listDeployments(c.get('userId'), c.req.valid('param').agentId, c.req.valid('query'))),
    );
}
