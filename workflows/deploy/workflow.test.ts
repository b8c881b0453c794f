import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../lib/ids.js';
import { AgentIdKey, DeploymentIdKey, OwnerIdKey, WorkflowKindKey } from '../../lib/temporal/search-attributes.js';
import { agentSource, echoVersion, THROWS_AT_START_AGENT, UNHEALTHY_AGENT } from '../../test/helpers/fixtures.js';
import { startDeployEnv, startDeploy, type DeployEnv } from '../../test/helpers/deploy-env.js';
import { replayAndRecord } from '../../test/helpers/temporal.js';
import { PermanentFailure, RetryableFailure } from '../failures.js';
import { progressQuery } from './messages.js';

let env: DeployEnv;
beforeAll(async () => {
  env = await startDeployEnv();
});
afterAll(async () => env?.close());

async function newAgent() {
  const ownerId = newId('usr');
  await env.store.ensureUser(ownerId, new Date());
  const agent = await env.store.createAgent({
    id: newId('agt'),
    ownerId,
    name: 'agent',
    runtime: 'local',
    now: new Date(),
  });
  return { ownerId, agentId: agent.id };
}

async function invokeServing(ownerId: string, agentId: string) {
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

async function failure(p: Promise<unknown>) {
  const err = await p.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return err as WorkflowFailedError;
}

describe('deploy workflow', () => {
  it('bundles, creates a version, health-checks it, switches the pointer and marks it live', async () => {
    const { ownerId, agentId } = await newAgent();
    const { deploymentId, handle } = await startDeploy(env, ownerId, agentId, echoVersion('v1'));
    const result = await handle.result();
    expect(result.artifactDigest).toMatch(/^sha256:[0-9a-f]{64}$/);

    const deployment = await env.store.getDeployment(ownerId, deploymentId);
    expect(deployment).toMatchObject({
      status: 'live',
      artifactDigest: result.artifactDigest,
      providerRef: result.versionRef,
      error: null,
    });
    expect(deployment.steps.map((s) => `${s.step}:${s.status}`)).toEqual([
      'validate:succeeded',
      'bundle:succeeded',
      'create_version:succeeded',
      'health_check:succeeded',
      'mark_live:succeeded',
    ]);
    expect((await env.store.getAgent(ownerId, agentId)).activeDeploymentId).toBe(deploymentId);
    expect(await invokeServing(ownerId, agentId)).toBe('v1');
    // the outcome is audited with the deployment's final status
    const [audit] = (await env.store.listAudit(ownerId, { limit: 1 })).items;
    expect(audit).toMatchObject({
      action: 'deployment.live',
      actor: `user:${ownerId}`,
      targetType: 'deployment',
      targetId: deploymentId,
    });

    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(AgentIdKey)).toBe(agentId);
    expect(description.typedSearchAttributes.get(OwnerIdKey)).toBe(ownerId);
    expect(description.typedSearchAttributes.get(DeploymentIdKey)).toBe(deploymentId);
    expect(description.typedSearchAttributes.get(WorkflowKindKey)).toBe('deploy');
    expect(await handle.query(progressQuery)).toMatchObject({ status: 'live', step: 'mark_live' });

    // The history replays against the current code; RECORD_HISTORIES=1 keeps it for replay.test.ts.
    await replayAndRecord(handle, import.meta.dirname, 'deploy-live.json');
  });

  it('on a failing health check removes the new version and leaves the previous deployment serving', async () => {
    const { ownerId, agentId } = await newAgent();
    const v1 = await startDeploy(env, ownerId, agentId, echoVersion('v1'));
    await v1.handle.result();

    const v2 = await startDeploy(env, ownerId, agentId, UNHEALTHY_AGENT);
    const err = await failure(v2.handle.result());
    await replayAndRecord(v2.handle, import.meta.dirname, 'deploy-compensated.json');
    expect((err.cause?.cause as Error | undefined)?.message).toContain('not ready');

    const failed = await env.store.getDeployment(ownerId, v2.deploymentId);
    expect(failed.status).toBe('failed');
    expect((await env.store.listAudit(ownerId, { limit: 1 })).items[0]).toMatchObject({
      action: 'deployment.failed',
      targetId: v2.deploymentId,
      details: { step: 'health_check' },
    });
    expect(failed.error).toMatchObject({ code: RetryableFailure.HealthCheckFailed });
    expect(failed.error!.message).toMatch(/^health_check: GET \/ping answered 500/);
    // the new version existed (it has a provider ref) and is gone now
    expect(failed.providerRef).toBeTruthy();
    await expect(
      env.provider.invoke({
        versionRef: failed.providerRef!,
        deploymentId: failed.id,
        body: '{}',
        sessionId: 's',
        accept: 'application/json',
        requestId: 'r',
      }),
    ).rejects.toMatchObject({ kind: 'retryable' });
    // the previous deployment keeps serving
    expect((await env.store.getAgent(ownerId, agentId)).activeDeploymentId).toBe(v1.deploymentId);
    expect(await invokeServing(ownerId, agentId)).toBe('v1');
    // and the agent can be deployed again
    const v3 = await startDeploy(env, ownerId, agentId, echoVersion('v3'));
    await v3.handle.result();
    expect(await invokeServing(ownerId, agentId)).toBe('v3');
  });

  it('fails without retrying when the source does not build, and creates no version', async () => {
    const { ownerId, agentId } = await newAgent();
    const { deploymentId, handle } = await startDeploy(env, ownerId, agentId, agentSource('export default {'));
    await failure(handle.result());
    const deployment = await env.store.getDeployment(ownerId, deploymentId);
    expect(deployment).toMatchObject({ status: 'failed', providerRef: null, artifactDigest: null });
    expect(deployment.error).toMatchObject({ code: PermanentFailure.BuildFailed });
    expect(deployment.error!.message).toMatch(/^bundle: index\.js:1:\d+/);
    const history = await handle.fetchHistory();
    const attempts = history.events
      ?.filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => e.activityTaskStartedEventAttributes!.attempt);
    expect(attempts?.every((a) => a === 1)).toBe(true);
  });

  it('fails when the agent throws at start, leaving the previous deployment serving', async () => {
    const { ownerId, agentId } = await newAgent();
    const v1 = await startDeploy(env, ownerId, agentId, echoVersion('v1'));
    await v1.handle.result();
    const bad = await startDeploy(env, ownerId, agentId, THROWS_AT_START_AGENT);
    await failure(bad.handle.result());
    const deployment = await env.store.getDeployment(ownerId, bad.deploymentId);
    expect(deployment.error).toMatchObject({ code: PermanentFailure.AgentStartFailed });
    expect(deployment.error!.message).toContain('boom at start');
    expect(await invokeServing(ownerId, agentId)).toBe('v1');
  });

  it('answers the progress query while it runs, and a cancel compensates and marks it canceled', async () => {
    const { ownerId, agentId } = await newAgent();
    const v1 = await startDeploy(env, ownerId, agentId, echoVersion('v1'));
    await v1.handle.result();
    // /ping takes 3 s, so the deploy sits in its health check
    const slow = agentSource(`export default { async fetch(req) {
      if (new URL(req.url).pathname === '/ping') { await new Promise((r) => setTimeout(r, 3000)); return new Response('ok'); }
      return Response.json({ output: { version: 'slow' } });
    } }`);
    const { deploymentId, handle } = await startDeploy(env, ownerId, agentId, slow);
    await expect
      .poll(async () => (await handle.query(progressQuery)).step, { timeout: 10_000, interval: 100 })
      .toBe('health_check');
    expect(await handle.query(progressQuery)).toMatchObject({
      status: 'deploying',
      completedSteps: ['validate', 'bundle', 'create_version'],
    });

    await handle.cancel();
    await failure(handle.result());
    const deployment = await env.store.getDeployment(ownerId, deploymentId);
    expect(deployment.status).toBe('canceled');
    await expect(
      env.provider.invoke({
        versionRef: deployment.providerRef!,
        deploymentId: deployment.id,
        body: '{}',
        sessionId: 's',
        accept: 'application/json',
        requestId: 'r',
      }),
    ).rejects.toMatchObject({ kind: 'retryable' });
    expect(await invokeServing(ownerId, agentId)).toBe('v1');
  });
});
