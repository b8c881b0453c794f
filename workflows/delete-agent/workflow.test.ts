import { pino } from 'pino';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeSecret, deleteAgent } from '../../api/orchestrate.js';
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
    await changeSecret(deps, { ownerId, agentId: agent.id, name: 'API_KEY', value: 'doomed-value', actor: 'user:x' });
    expect(env.runtime.host.status(v2.versionRef).running).toBe(true);
    const { workflowId } = await deleteAgent(deps, { ownerId, agentId: agent.id, actor: `user:${ownerId}` });
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
    // history stays; the secrets' metadata is marked deleted, the runtime holds nothing of the agent
    expect((await env.store.getDeployment(ownerId, v2.deploymentId)).status).toBe('live');
    expect(await env.runtime.host.activeVersion(agent.id)).toBeNull();
    const [audit] = (await env.store.listAudit(ownerId, { limit: 1 })).items;
    expect(audit).toMatchObject({
      action: 'agent.torn_down',
      actor: `user:${ownerId}`,
      targetId: agent.id,
      details: { runtimes: ['local'], secretsForgotten: 1 },
    });
    await env.store.restoreAgent({ ownerId, agentId: agent.id, now: new Date() });
    expect(await env.store.listSecretMetadata(ownerId, agent.id)).toEqual([]);
    await env.store.deleteAgent({ ownerId, agentId: agent.id, now: new Date() });

    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(AgentIdKey)).toBe(agent.id);
    expect(description.typedSearchAttributes.get(OwnerIdKey)).toBe(ownerId);
    expect(description.typedSearchAttributes.get(WorkflowKindKey)).toBe(DELETE_AGENT_WORKFLOW_KIND);
    expect(await handle.query(deleteProgressQuery)).toEqual({ agentId: agent.id, step: 'done' });

    await replayAndRecord(handle, import.meta.dirname, 'delete-agent.json');

    // deleting twice is fine: the teardown runs again and finds nothing left
    const again = await deleteAgent(deps, { ownerId, agentId: agent.id, actor: `user:${ownerId}` });
    expect(again.agent.status).toBe('deleted');
    const second = env.client.workflow.getHandle<typeof deleteAgentWorkflow>(again.workflowId);
    expect(await second.result()).toEqual({ agentId: agent.id });
  });

  it('when the runtime refuses the teardown, the agent stays deleted and a second delete finishes it', async () => {
    const ownerId = newId('usr');
    await env.store.ensureUser(ownerId, new Date());
    const agent = await env.store.createAgent({
      id: newId('agt'),
      ownerId,
      name: 'stubborn',
      runtime: 'local',
      now: new Date(),
    });
    const v1 = await deployLive(env, ownerId, agent.id, echoVersion('v1'));
    const deps = {
      store: env.store,
      workflows: env.workflows,
      deployableRuntimes: ['local'] as const,
      log: pino({ level: 'silent' }),
    };

    env.failNext('destroyAgentRuntime');
    const first = await deleteAgent(deps, { ownerId, agentId: agent.id, actor: `user:${ownerId}` });
    const failed = await env.client.workflow
      .getHandle(first.workflowId)
      .result()
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(WorkflowFailedError);
    // not serving, not audited as deleted, its version still at the runtime
    await expect(env.store.getServingTarget(ownerId, agent.id)).rejects.toMatchObject({ code: 'not_found' });
    expect((await env.store.listAudit(ownerId, { limit: 5 })).items.map((e) => e.action)).not.toContain(
      'agent.torn_down',
    );
    expect(await env.runtime.host.activeVersion(agent.id)).toBe(v1.versionRef);

    const again = await deleteAgent(deps, { ownerId, agentId: agent.id, actor: `user:${ownerId}` });
    expect(await env.client.workflow.getHandle(again.workflowId).result()).toEqual({ agentId: agent.id });
    expect(await env.runtime.host.activeVersion(agent.id)).toBeNull();
    expect((await env.store.listAudit(ownerId, { limit: 5 })).items.map((e) => e.action)).toContain('agent.torn_down');
  });
});
