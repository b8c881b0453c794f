import { WorkflowFailedError } from '@temporalio/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rollbackAgent } from '../../api/orchestrate.js';
import { newId } from '../../lib/ids.js';
import { AgentIdKey, DeploymentIdKey, OwnerIdKey, WorkflowKindKey } from '../../lib/temporal/search-attributes.js';
import { deployLive, startDeploy, startDeployEnv, type DeployEnv } from '../../test/helpers/deploy-env.js';
import { echoVersion, UNHEALTHY_AGENT } from '../../test/helpers/fixtures.js';
import { replayAndRecord } from '../../test/helpers/temporal.js';
import { PermanentFailure } from '../failures.js';
import { ROLLBACK_WORKFLOW_KIND, rollbackWorkflowId } from './config.js';
import { rollbackProgressQuery } from './messages.js';
import type { rollbackWorkflow } from './workflow.js';

let env: DeployEnv;
beforeAll(async () => {
  env = await startDeployEnv();
});
afterAll(async () => env?.close());

const silent = pino({ level: 'silent' });
const apiDeps = () => ({
  store: env.store,
  workflows: env.workflows,
  deployableRuntimes: ['local'] as const,
  log: silent,
});

async function agentWithTwoLiveVersions() {
  const ownerId = newId('usr');
  await env.store.ensureUser(ownerId, new Date());
  const agent = await env.store.createAgent({
    id: newId('agt'),
    ownerId,
    name: 'a',
    runtime: 'local',
    now: new Date(),
  });
  const v1 = await deployLive(env, ownerId, agent.id, echoVersion('v1'));
  const v2 = await deployLive(env, ownerId, agent.id, echoVersion('v2'));
  return { ownerId, agentId: agent.id, v1, v2 };
}

async function servingVersion(ownerId: string, agentId: string) {
  const target = await env.store.getServingTarget(ownerId, agentId);
  const res = await env.provider.invoke({
    versionRef: target.deployment!.providerRef,
    deploymentId: target.deployment!.id,
    body: '{"input":1}',
    sessionId: 's',
    accept: 'application/json',
    requestId: 'r',
  });
  return (JSON.parse(await res.text()) as { output: { version: string } }).output.version;
}

const handleOf = (workflowId: string) => env.client.workflow.getHandle<typeof rollbackWorkflow>(workflowId);

describe('rollback workflow', () => {
  it('serves an earlier live deployment again without building, starting its stopped version', async () => {
    const { ownerId, agentId, v1, v2 } = await agentWithTwoLiveVersions();
    // the old version drained and stopped after v2 went live
    await expect.poll(() => env.runtime.host.status(v1.versionRef).running, { timeout: 10_000 }).toBe(false);

    const { workflowId } = await rollbackAgent(apiDeps(), {
      ownerId,
      agentId,
      deploymentId: v1.deploymentId,
      actor: `user:${ownerId}`,
    });
    expect(workflowId).toBe(rollbackWorkflowId(agentId, v1.deploymentId));
    const handle = handleOf(workflowId);
    expect(await handle.result()).toEqual({
      agentId,
      deploymentId: v1.deploymentId,
      previousDeploymentId: v2.deploymentId,
      switched: true,
    });

    const agent = await env.store.getAgent(ownerId, agentId);
    expect(agent).toMatchObject({ activeDeploymentId: v1.deploymentId, rollbackWorkflowId: null });
    expect(await servingVersion(ownerId, agentId)).toBe('v1');
    // no build: the deployments are the same two, both still `live`
    const deployments = (await env.store.listDeployments(ownerId, agentId, { limit: 10 })).items;
    expect(deployments.map((d) => d.status)).toEqual(['live', 'live']);
    const [audit] = (await env.store.listAudit(ownerId, { limit: 1 })).items;
    expect(audit).toMatchObject({
      action: 'agent.rolled_back',
      actor: `user:${ownerId}`,
      targetId: agentId,
      details: { deploymentId: v1.deploymentId, previousDeploymentId: v2.deploymentId },
    });

    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(AgentIdKey)).toBe(agentId);
    expect(description.typedSearchAttributes.get(OwnerIdKey)).toBe(ownerId);
    expect(description.typedSearchAttributes.get(DeploymentIdKey)).toBe(v1.deploymentId);
    expect(description.typedSearchAttributes.get(WorkflowKindKey)).toBe(ROLLBACK_WORKFLOW_KIND);
    expect(await handle.query(rollbackProgressQuery)).toMatchObject({ step: 'done' });
    await replayAndRecord(handle, import.meta.dirname, 'rollback.json');

    // and forward again, to the newer one
    const again = await rollbackAgent(apiDeps(), { ownerId, agentId, deploymentId: v2.deploymentId, actor: 'user:x' });
    await handleOf(again.workflowId).result();
    expect(await servingVersion(ownerId, agentId)).toBe('v2');
  });

  it('when the pointer cannot be switched, activates the version that served before and frees the agent', async () => {
    const { ownerId, agentId, v1, v2 } = await agentWithTwoLiveVersions();
    env.failNext('switchActive');
    const { workflowId } = await rollbackAgent(apiDeps(), {
      ownerId,
      agentId,
      deploymentId: v1.deploymentId,
      actor: 'user:x',
    });
    const handle = handleOf(workflowId);
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(String((err as WorkflowFailedError).cause?.message)).toContain('injected failure of switchActive');

    const agent = await env.store.getAgent(ownerId, agentId);
    expect(agent).toMatchObject({ activeDeploymentId: v2.deploymentId, rollbackWorkflowId: null });
    expect(await env.runtime.host.activeVersion(agentId)).toBe(v2.versionRef);
    expect(await servingVersion(ownerId, agentId)).toBe('v2');
    await replayAndRecord(handle, import.meta.dirname, 'rollback-compensated.json');
    // the agent is free for the next deploy
    await deployLive(env, ownerId, agentId, echoVersion('v3'));
  });

  it('refuses, changing nothing, a target that never went live, even when started past the api', async () => {
    const { ownerId, agentId, v2 } = await agentWithTwoLiveVersions();
    const failed = await startDeploy(env, ownerId, agentId, UNHEALTHY_AGENT);
    await failed.handle.result().catch(() => undefined);

    // the api answers at once
    await expect(
      rollbackAgent(apiDeps(), { ownerId, agentId, deploymentId: failed.deploymentId, actor: 'user:x' }),
    ).rejects.toMatchObject({ code: 'validation_failed', message: expect.stringContaining('is failed') });

    // the workflow checks again, where the check cannot go stale
    const workflowId = rollbackWorkflowId(agentId, failed.deploymentId);
    await env.store.beginRollback({ ownerId, agentId, workflowId, now: new Date() });
    const { workflowId: started } = await env.workflows.startRollback({
      ownerId,
      agentId,
      deploymentId: failed.deploymentId,
      actor: 'user:x',
    });
    const handle = handleOf(started);
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(err.cause).toMatchObject({ type: PermanentFailure.RollbackTargetInvalid });
    expect(await env.store.getAgent(ownerId, agentId)).toMatchObject({
      activeDeploymentId: v2.deploymentId,
      rollbackWorkflowId: null,
    });
    await replayAndRecord(handle, import.meta.dirname, 'rollback-refused.json');
  });

  it('refuses a rollback while a deploy is in flight, and a deploy while a rollback holds the agent', async () => {
    const { ownerId, agentId, v1 } = await agentWithTwoLiveVersions();
    const deploying = await startDeploy(env, ownerId, agentId, echoVersion('v3'));
    await expect(
      rollbackAgent(apiDeps(), { ownerId, agentId, deploymentId: v1.deploymentId, actor: 'user:x' }),
    ).rejects.toMatchObject({ code: 'conflict' });
    await deploying.handle.result();

    await env.store.beginRollback({ ownerId, agentId, workflowId: 'rollback-held', now: new Date() });
    await expect(startDeploy(env, ownerId, agentId, echoVersion('v4'))).rejects.toMatchObject({ code: 'conflict' });
    await expect(
      rollbackAgent(apiDeps(), { ownerId, agentId, deploymentId: v1.deploymentId, actor: 'user:x' }),
    ).rejects.toMatchObject({ code: 'conflict' });
  });
});
