import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, Page } from '../../lib/contracts/index.js';
import { openStore, type Store } from '../../lib/store/index.js';
import { apiUnderTest } from '../../test/helpers/api.js';
import { expectError } from '../../test/helpers/http.js';
import { fakeWorkflows, type FakeWorkflows } from '../../test/helpers/workflows.js';
import { deleteAgentWorkflowId } from '../../workflows/delete-agent/config.js';

// /v1/agents needs no workflow: the api runs over PGlite and a fake of its Temporal port.

let store: Store;
let workflows: FakeWorkflows;
let api: Awaited<ReturnType<typeof apiUnderTest>>;
let alice: string;
let bob: string;

beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  workflows = fakeWorkflows();
  api = await apiUnderTest(store, workflows);
  alice = await api.token('alice');
  bob = await api.token('bob');
});
afterAll(async () => {
  await api?.close();
  await store?.close();
});

let n = 0;
const uniqueName = () => `agent-${Date.now().toString(36)}-${n++}`;
async function createAgent(token = alice, body: Record<string, unknown> = {}) {
  const res = await api.call('POST', '/v1/agents', { token, body: { name: uniqueName(), runtime: 'local', ...body } });
  expect(res.status).toBe(201);
  return (await res.json()) as Agent;
}
const list = async (token: string, query = '') =>
  (await (await api.call('GET', `/v1/agents${query}`, { token })).json()) as Page<Agent>;

describe('agents: happy', () => {
  it('creates, reads, lists, renames and deletes an agent', async () => {
    const name = uniqueName();
    const created = await api.call('POST', '/v1/agents', { token: alice, body: { name, runtime: 'local' } });
    expect(created.status).toBe(201);
    const agent = (await created.json()) as Agent;
    expect(agent).toMatchObject({
      name,
      runtime: 'local',
      status: 'active',
      activeDeploymentId: null,
      ownerId: 'alice',
    });
    expect(agent.id).toMatch(/^agt_/);

    expect(await (await api.call('GET', `/v1/agents/${agent.id}`, { token: alice })).json()).toEqual(agent);
    expect((await list(alice)).items.map((a) => a.id)).toContain(agent.id);
    const renamed = (await (
      await api.call('PATCH', `/v1/agents/${agent.id}`, { token: alice, body: { name: `${name}-2` } })
    ).json()) as Agent;
    expect(renamed.name).toBe(`${name}-2`);
    const deleted = await api.call('DELETE', `/v1/agents/${agent.id}`, { token: alice });
    expect(deleted.status).toBe(202);
    expect(await deleted.json()).toMatchObject({
      id: agent.id,
      status: 'deleted',
      workflowId: deleteAgentWorkflowId(agent.id),
    });
    expect(workflows.deletes.at(-1)).toEqual({
      ownerId: 'alice',
      agentId: agent.id,
      runtime: 'local',
      runtimes: ['local'],
      actor: 'user:alice',
    });
    await expectError(await api.call('GET', `/v1/agents/${agent.id}`, { token: alice }), 404, 'not_found');
    // deleting twice is fine: the teardown is started again
    const again = await api.call('DELETE', `/v1/agents/${agent.id}`, { token: alice });
    expect(again.status).toBe(202);
    expect(workflows.deletes.filter((d) => d.agentId === agent.id)).toHaveLength(2);
    // but never for another owner
    await expectError(await api.call('DELETE', `/v1/agents/${agent.id}`, { token: bob }), 404, 'not_found');
  });

  it('pages the list with a cursor, newest first', async () => {
    const user = await api.token('pager');
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await createAgent(user));
    const first = await list(user, '?limit=2');
    expect(first.items.map((a) => a.id)).toEqual([made[2]!.id, made[1]!.id]);
    const second = await list(user, `?limit=2&cursor=${first.nextCursor}`);
    expect(second.items.map((a) => a.id)).toEqual([made[0]!.id]);
    expect(second.nextCursor).toBeNull();
  });

  it('replays the first answer for a repeated Idempotency-Key', async () => {
    const user = await api.token('retrier');
    const body = { name: uniqueName(), runtime: 'local' };
    const first = await api.call('POST', '/v1/agents', {
      token: user,
      body,
      headers: { 'idempotency-key': 'create-1' },
    });
    const again = await api.call('POST', '/v1/agents', {
      token: user,
      body,
      headers: { 'idempotency-key': 'create-1' },
    });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(await first.json());
    expect((await list(user)).items).toHaveLength(1);
  });
});

describe('agents: errors', () => {
  it('refuses bad input with the error envelope and creates nothing', async () => {
    const user = await api.token('careless');
    const bad = [
      { rawBody: '{"name": "x",', why: 'malformed JSON' },
      { body: { name: 'ok-name', runtime: 'mars' }, why: 'unknown runtime' },
      { body: { name: 42 }, why: 'wrong type' },
      { body: { name: 'Not A Label!' }, why: 'invalid name' },
      { body: { name: 'ok-name', extra: true }, why: 'unknown field' },
      { rawBody: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' }, why: 'not JSON' },
    ];
    for (const b of bad) {
      const err = await expectError(
        await api.call('POST', '/v1/agents', { token: user, ...b }),
        400,
        'validation_failed',
      );
      expect(err.message, b.why).toBeTruthy();
    }
    expect((await list(user)).items).toEqual([]);
  });

  it('answers unknown ids, malformed ids, bad pages and unknown routes in the envelope', async () => {
    const user = await api.token('lost');
    await expectError(await api.call('GET', '/v1/agents/agt_does_not_exist', { token: user }), 404, 'not_found');
    await expectError(await api.call('GET', '/v1/agents/bad%20id', { token: user }), 400, 'validation_failed');
    await expectError(await api.call('GET', '/v1/agents?limit=0', { token: user }), 400, 'validation_failed');
    await expectError(await api.call('GET', '/v1/agents?cursor=nonsense', { token: user }), 400, 'validation_failed');
    await expectError(await api.call('GET', '/v1/nothing-here', { token: user }), 404, 'not_found');
    await expectError(await api.call('PATCH', '/v1/agents/agt_x', { token: user, body: {} }), 400, 'validation_failed');
  });

  it('refuses a duplicate name with 409', async () => {
    const agent = await createAgent();
    await expectError(
      await api.call('POST', '/v1/agents', { token: alice, body: { name: agent.name } }),
      409,
      'conflict',
    );
  });

  it('refuses an Idempotency-Key reused for another request', async () => {
    const user = await api.token('reuser');
    await api.call('POST', '/v1/agents', {
      token: user,
      body: { name: uniqueName() },
      headers: { 'idempotency-key': 'k' },
    });
    await expectError(
      await api.call('POST', '/v1/agents', {
        token: user,
        body: { name: uniqueName() },
        headers: { 'idempotency-key': 'k' },
      }),
      409,
      'conflict',
    );
    await expectError(
      await api.call('POST', '/v1/agents', {
        token: user,
        body: { name: uniqueName() },
        headers: { 'idempotency-key': 'k'.repeat(256) },
      }),
      400,
      'validation_failed',
    );
  });
});

describe('agents: delete when Temporal is down', () => {
  it('answers 500 and leaves the agent as it was', async () => {
    const agent = await createAgent();
    workflows.failNextStarts(1);
    const err = await expectError(
      await api.call('DELETE', `/v1/agents/${agent.id}`, { token: alice }),
      500,
      'internal',
    );
    expect(err.message).toContain('try again');
    expect(await (await api.call('GET', `/v1/agents/${agent.id}`, { token: alice })).json()).toMatchObject({
      id: agent.id,
      status: 'active',
    });
    expect((await api.call('DELETE', `/v1/agents/${agent.id}`, { token: alice })).status).toBe(202);
  });
});

describe('agents: Idempotency-Key after a refusal', () => {
  it('keeps no answer for a refused request, so the corrected retry is served', async () => {
    const user = await api.token('corrector');
    const headers = { 'idempotency-key': 'fix-and-retry' };
    await expectError(
      await api.call('POST', '/v1/agents', { token: user, body: { name: 'Bad Name' }, headers }),
      400,
      'validation_failed',
    );
    const name = uniqueName();
    const fixed = await api.call('POST', '/v1/agents', { token: user, body: { name }, headers });
    expect(fixed.status).toBe(201);
    expect(await fixed.json()).toMatchObject({ name });
  });
});

describe('agents: security', () => {
  it('requires a valid bearer token on every route', async () => {
    const agent = await createAgent();
    const routes: [string, string][] = [
      ['GET', '/v1/agents'],
      ['POST', '/v1/agents'],
      ['GET', `/v1/agents/${agent.id}`],
      ['PATCH', `/v1/agents/${agent.id}`],
      ['DELETE', `/v1/agents/${agent.id}`],
    ];
    for (const [method, path] of routes) {
      await expectError(await api.call(method, path, { body: {} }), 401, 'unauthorized');
      await expectError(await api.call(method, path, { body: {}, token: 'forged.token.here' }), 401, 'unauthorized');
    }
    expect((await api.call('GET', `/v1/agents/${agent.id}`, { token: alice })).status).toBe(200);
  });

  it('answers 404 for another owner’s agent, and changes nothing', async () => {
    const agent = await createAgent();
    await expectError(await api.call('GET', `/v1/agents/${agent.id}`, { token: bob }), 404, 'not_found');
    await expectError(
      await api.call('PATCH', `/v1/agents/${agent.id}`, { token: bob, body: { name: 'stolen' } }),
      404,
      'not_found',
    );
    await expectError(await api.call('DELETE', `/v1/agents/${agent.id}`, { token: bob }), 404, 'not_found');
    expect((await list(bob)).items.map((a) => a.id)).not.toContain(agent.id);
    expect(((await (await api.call('GET', `/v1/agents/${agent.id}`, { token: alice })).json()) as Agent).name).toBe(
      agent.name,
    );
  });

  it('keeps Idempotency-Keys per owner: another owner’s key replays nothing of mine', async () => {
    const body = { name: uniqueName() };
    const mine = (await (
      await api.call('POST', '/v1/agents', { token: alice, body, headers: { 'idempotency-key': 'shared' } })
    ).json()) as Agent;
    const theirs = await api.call('POST', '/v1/agents', { token: bob, body, headers: { 'idempotency-key': 'shared' } });
    expect(theirs.status).toBe(201);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect(((await theirs.json()) as Agent).id).not.toBe(mine.id);
  });
});

describe('agents: runtimes', () => {
  it('refuses an agent on a runtime this platform has no provider for, saying what to configure', async () => {
    for (const [runtime, setting] of [
      ['cloudflare', 'CLOUDFLARE_API_TOKEN'],
      ['agentcore', 'WEBHOST_AGENTCORE_ROLE_ARN'],
    ] as const) {
      const name = uniqueName();
      const err = await expectError(
        await api.call('POST', '/v1/agents', { token: alice, body: { name, runtime } }),
        503,
        'runtime_unavailable',
      );
      expect(err.message).toContain(setting);
      expect((await list(alice)).items.map((a) => a.name)).not.toContain(name);
    }
  });

  it('moves an agent to another runtime from its next deploy on, and refuses one that is not configured', async () => {
    const agent = await createAgent();
    await store.setAgentRuntime({ ownerId: 'alice', agentId: agent.id, runtime: 'cloudflare', now: new Date() });
    const moved = await api.call('PATCH', `/v1/agents/${agent.id}`, { token: alice, body: { runtime: 'local' } });
    expect(moved.status).toBe(200);
    expect(((await moved.json()) as Agent).runtime).toBe('local');
    await expectError(
      await api.call('PATCH', `/v1/agents/${agent.id}`, {
        token: alice,
        body: { runtime: 'agentcore', name: 'renamed' },
      }),
      503,
      'runtime_unavailable',
    );
    expect(await store.getAgent('alice', agent.id)).toMatchObject({ runtime: 'local', name: agent.name });
    await expectError(
      await api.call('PATCH', `/v1/agents/${agent.id}`, { token: alice, body: { runtime: 'mars' } }),
      400,
      'validation_failed',
    );
    await expectError(
      await api.call('PATCH', `/v1/agents/${agent.id}`, { token: bob, body: { runtime: 'local' } }),
      404,
      'not_found',
    );
  });
});
