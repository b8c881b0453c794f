import { randomUUID } from 'node:crypto';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { changeSecret, rollbackAgent } from '../../api/orchestrate.js';
import { newId } from '../../lib/ids.js';
import { AgentIdKey, OwnerIdKey, WorkflowKindKey } from '../../lib/temporal/search-attributes.js';
import { deployLive, startDeployEnv, type DeployEnv } from '../../test/helpers/deploy-env.js';
import { agentSource } from '../../test/helpers/fixtures.js';
import { replayAndRecord } from '../../test/helpers/temporal.js';
import { SECRET_WORKFLOW_KIND, secretWorkflowId } from './config.js';
import { secretProgressQuery } from './messages.js';

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

/** An agent that answers with the secret it is asked for, and its version string. */
const secretReader = (version: string) =>
  agentSource(`export default { async fetch(req, env) {
    if (new URL(req.url).pathname === '/ping') return new Response('ok');
    const { input } = await req.json();
    return Response.json({ output: { value: env[input] ?? null, version: ${JSON.stringify(version)} } });
  } }`);

async function newAgent() {
  const ownerId = newId('usr');
  await env.store.ensureUser(ownerId, new Date());
  const agent = await env.store.createAgent({
    id: newId('agt'),
    ownerId,
    name: 's',
    runtime: 'local',
    now: new Date(),
  });
  return { ownerId, agentId: agent.id };
}

async function read(ownerId: string, agentId: string, name: string) {
  const target = await env.store.getServingTarget(ownerId, agentId);
  const res = await env.provider.invoke({
    versionRef: target.deployment!.providerRef,
    deploymentId: target.deployment!.id,
    body: JSON.stringify({ input: name }),
    sessionId: 's',
    accept: 'application/json',
    requestId: 'r',
  });
  return (JSON.parse(await res.text()) as { output: { value: string | null; version: string } }).output;
}

const set = (ownerId: string, agentId: string, name: string, value: string | null) =>
  changeSecret(apiDeps(), { ownerId, agentId, name, value, actor: `user:${ownerId}` });

describe('secret workflow', () => {
  it('sets a secret the agent reads as env.NAME on its next call, kept across deploys and rollbacks', async () => {
    const { ownerId, agentId } = await newAgent();
    const v1 = await deployLive(env, ownerId, agentId, secretReader('v1'));
    const canary = `canary-${randomUUID()}`;

    const outcome = await set(ownerId, agentId, 'API_KEY', canary);
    expect(outcome).toMatchObject({ state: 'done', result: { name: 'API_KEY', version: 1, deleted: false } });
    expect(await read(ownerId, agentId, 'API_KEY')).toEqual({ value: canary, version: 'v1' });
    expect(await env.store.listSecretMetadata(ownerId, agentId)).toMatchObject([{ name: 'API_KEY', version: 1 }]);

    const handle = env.client.workflow.getHandle(secretWorkflowId(agentId, 'API_KEY', 1));
    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(AgentIdKey)).toBe(agentId);
    expect(description.typedSearchAttributes.get(OwnerIdKey)).toBe(ownerId);
    expect(description.typedSearchAttributes.get(WorkflowKindKey)).toBe(SECRET_WORKFLOW_KIND);
    expect(await handle.query(secretProgressQuery)).toEqual({ name: 'API_KEY', version: 1, step: 'done' });
    await replayAndRecord(handle, import.meta.dirname, 'secret-set.json');

    // Temporal stores only ciphertext: read the history as the server holds it, without the codec
    const raw = new Client({ connection: await Connection.connect({ address: inject('temporalAddress') }) });
    const history = JSON.stringify(await raw.workflow.getHandle(handle.workflowId).fetchHistory());
    for (const form of [canary, Buffer.from(canary).toString('base64'), Buffer.from(canary).toString('hex')])
      expect(history).not.toContain(form);
    await raw.connection.close();

    // rotated: the next call sees the new value
    await set(ownerId, agentId, 'API_KEY', `${canary}-2`);
    expect((await read(ownerId, agentId, 'API_KEY')).value).toBe(`${canary}-2`);
    // a new deploy and a rollback keep it
    await deployLive(env, ownerId, agentId, secretReader('v2'));
    expect(await read(ownerId, agentId, 'API_KEY')).toEqual({ value: `${canary}-2`, version: 'v2' });
    const back = await rollbackAgent(apiDeps(), { ownerId, agentId, deploymentId: v1.deploymentId, actor: 'user:x' });
    await env.client.workflow.getHandle(back.workflowId).result();
    expect(await read(ownerId, agentId, 'API_KEY')).toEqual({ value: `${canary}-2`, version: 'v1' });

    // deleted: gone from the agent and the list; set again, its version keeps growing
    expect(await set(ownerId, agentId, 'API_KEY', null)).toMatchObject({ state: 'done', result: { version: 3 } });
    expect((await read(ownerId, agentId, 'API_KEY')).value).toBeNull();
    expect(await env.store.listSecretMetadata(ownerId, agentId)).toEqual([]);
    expect(await set(ownerId, agentId, 'API_KEY', 'again')).toMatchObject({ result: { version: 4 } });

    const audit = (await env.store.listAudit(ownerId, { limit: 10 })).items.map((e) => e.action);
    expect(audit.filter((a) => a.startsWith('secret.'))).toEqual([
      'secret.set',
      'secret.deleted',
      'secret.set',
      'secret.set',
    ]);
    expect(JSON.stringify(await env.store.listAudit(ownerId, { limit: 10 }))).not.toContain(canary);
  });

  it('when the change cannot be recorded, removes the value again and records nothing', async () => {
    const { ownerId, agentId } = await newAgent();
    await deployLive(env, ownerId, agentId, secretReader('v1'));
    env.failNext('recordSecretVersion');
    await expect(set(ownerId, agentId, 'TOKEN', 'value-that-must-not-stay')).rejects.toMatchObject({
      code: 'runtime_unavailable',
    });
    expect((await read(ownerId, agentId, 'TOKEN')).value).toBeNull();
    expect(await env.store.listSecretMetadata(ownerId, agentId)).toEqual([]);
    const handle = env.client.workflow.getHandle(secretWorkflowId(agentId, 'TOKEN', 1));
    expect(await handle.result().catch((e: unknown) => e)).toBeInstanceOf(WorkflowFailedError);
    await replayAndRecord(handle, import.meta.dirname, 'secret-compensated.json');
    // the failed change's id may run again: the retry succeeds
    expect(await set(ownerId, agentId, 'TOKEN', 'second try')).toMatchObject({ result: { version: 1 } });
    expect((await read(ownerId, agentId, 'TOKEN')).value).toBe('second try');
  });

  it('refuses to delete a secret that is not set, starting nothing', async () => {
    const { ownerId, agentId } = await newAgent();
    await expect(set(ownerId, agentId, 'NEVER_SET', null)).rejects.toMatchObject({ code: 'not_found' });
  });
});
