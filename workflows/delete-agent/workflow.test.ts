import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteAgent } from '../../api/orchestrate.js';
import { newId } from '../../lib/ids.js';
import { AgentIdKey, OwnerIdKey, WorkflowKindKey } from '../../lib/temporal/search-attributes.js';
import { deployLive, startDeployEnv, type DeployEnv } from '../../test/helpers/deploy-env.js';
import { echoVersion } from '../../test/helpers/fixtures.js';
import { replayAndRecord } from '../../test/helpers/temporal.js';
import { DELETE_AGENT_WORKFLOW_KIND } from './config.js';
import { deleteProgressQuery } from './messages.js';
import type { deleteAgentWorkflow } from './workflow.js';

let env: DeployEnv;
beforeAll(async () => {
  env = await startDeployEnv();
});
afterAll(async () => env?.close());

describe('delete-agent workflow', () => {
  it('stops serving at once, then stops every process of the agent and keeps its history', async () => {
    const ownerId = newId('usr');
    await env.store.ensureUser(ownerId, new Date());
    const agent = await env.store.createAgent({
      id: newId('agt'),
      ownerId,
      name: 'doomed',
      runtime: 'local',
      now: new Date(),
    });
    const v1 = await deployLive(env, ownerId, agent.id, echoVersion('v1'));
    const v2 = await deployLive(env, ownerId, agent.id, echoVersion('v2'));
    expect(env.runtime.host.status(v2.versionRef).running).toBe(true);

    const deps = {
      store: env.store,
      workflows: env.workflows,
      deployableRuntimes: ['local'] as const,
      log: pino({ level: 'silent' }),
    };
    const { workflowId } = await deleteAgent(deps, { ownerId, agentId: agent.id });
    await expect(env.store.getServingTarget(ownerId, agent.id)).rejects.toMatchObject({ code: 'not_found' });

    const handle = env.client.workflow.getHandle<typeof deleteAgentWorkflow>(workflowId);
    expect(await handle.result()).toEqual({ agentId: agent.id });
    for (const v of [v1, v2]) expect(env.runtime.host.status(v.versionRef).running).toBe(false);
    await expect(
      env.provider.invoke({
        versionRef: v2.versionRef,
        deploymentId: v2.deploymentId,
        body: '{}',
        sessionId: 's',
        accept: 'application/json',
        requestId: 'r',
      }),
    ).rejects.toThrow();
    // history stays
    expect((await env.store.getDeployment(ownerId, v2.deploymentId)).status).toBe('live');

    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(AgentIdKey)).toBe(agent.id);
    expect(description.typedSearchAttributes.get(OwnerIdKey)).toBe(ownerId);
    expect(description.typedSearchAttributes.get(WorkflowKindKey)).toBe(DELETE_AGENT_WORKFLOW_KIND);
    expect(await handle.query(deleteProgressQuery)).toEqual({ agentId: agent.id, step: 'done' });

    await replayAndRecord(handle, import.meta.dirname, 'delete-agent.json');
  });
});
