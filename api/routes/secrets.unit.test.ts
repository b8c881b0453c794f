import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SECRET_VALUE_BYTES } from '../../lib/contracts/index.js';
import { newId } from '../../lib/ids.js';
import { openStore, type Store } from '../../lib/store/index.js';
import { apiUnderTest } from '../../test/helpers/api.js';
import { expectError } from '../../test/helpers/http.js';
import { fakeWorkflows, type FakeWorkflows } from '../../test/helpers/workflows.js';

// /v1/agents/:id/secrets over PGlite and a fake Temporal port: validation, scoping, and what
// is started. The change itself, and the canary that must appear nowhere: workflows/secrets,
// test/e2e/secrets.test.ts.

let store: Store;
let workflows: FakeWorkflows;
let api: Awaited<ReturnType<typeof apiUnderTest>>;
let alice: string;
let bob: string;
let agentId: string;

beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  workflows = fakeWorkflows();
  api = await apiUnderTest(store, workflows);
  alice = await api.token('alice');
  bob = await api.token('bob');
  for (const user of ['alice', 'bob']) await store.ensureUser(user, new Date());
  agentId = (
    await store.createAgent({ id: newId('agt'), ownerId: 'alice', name: 's', runtime: 'local', now: new Date() })
  ).id;
});
afterAll(async () => {
  await api?.close();
  await store?.close();
});

const CANARY = 'canary-value-3f9a1b';
const put = (name: string, body: unknown, token = alice, agent = agentId) =>
  api.call('PUT', `/v1/agents/${agent}/secrets/${name}`, { token, body });

describe('secrets routes', () => {
  it('starts secret-<agentId>-<name>-<version> and answers 202 while it runs; lists names and versions only', async () => {
    const res = await put('OPENAI_API_KEY', { value: CANARY });
    expect(res.status).toBe(202);
    const body = await res.text();
    expect(JSON.parse(body)).toEqual({
      name: 'OPENAI_API_KEY',
      version: 1,
      workflowId: `secret-${agentId}-OPENAI_API_KEY-1`,
      status: 'pending',
    });
    expect(body).not.toContain(CANARY);
    expect(workflows.secretChanges.at(-1)).toMatchObject({
      agentId,
      name: 'OPENAI_API_KEY',
      version: 1,
      value: CANARY,
    });

    await store.recordSecretVersion({
      ownerId: 'alice',
      agentId,
      name: 'OPENAI_API_KEY',
      version: 1,
      deleted: false,
      now: new Date(),
    });
    const list = await api.call('GET', `/v1/agents/${agentId}/secrets`, { token: alice });
    const items = ((await list.json()) as { items: Record<string, unknown>[] }).items;
    expect(items).toEqual([{ name: 'OPENAI_API_KEY', version: 1, updatedAt: expect.any(String) }]);
    // the next change is the next version; a delete is a change too
    expect(await (await put('OPENAI_API_KEY', { value: 'x' })).json()).toMatchObject({ version: 2 });
    const del = await api.call('DELETE', `/v1/agents/${agentId}/secrets/OPENAI_API_KEY`, { token: alice });
    expect(del.status).toBe(202);
    expect(workflows.secretChanges.at(-1)).toMatchObject({ name: 'OPENAI_API_KEY', version: 2 });
    expect(workflows.secretChanges.at(-1)).not.toHaveProperty('value');
  });

  it('refuses bad names and values with a clear error that never echoes the value, starting nothing', async () => {
    const before = workflows.secretChanges.length;
    const big = 'é'.repeat(MAX_SECRET_VALUE_BYTES / 2) + 'x';
    const cases: [string, unknown, string][] = [
      ['lower_case', { value: CANARY }, 'upper-case'],
      ['1STARTS_WITH_DIGIT', { value: CANARY }, 'upper-case'],
      ['A'.repeat(65), { value: CANARY }, 'at most 64'],
      ['WEBHOST_INVOKE_TOKEN', { value: CANARY }, 'platform'],
      ['OK', { value: big }, '5 KiB'],
      ['OK', { value: 42 }, 'must be a string'],
      ['OK', { value: CANARY, [CANARY]: CANARY }, 'only "value"'],
      ['OK', {}, 'value'],
    ];
    for (const [name, body, says] of cases) {
      const res = await put(name, body);
      const text = await res.clone().text();
      const err = await expectError(res, 400, 'validation_failed');
      expect(err.message).toContain(says);
      expect(text).not.toContain(CANARY);
      expect(text).not.toContain('ééé');
    }
    expect(workflows.secretChanges.length).toBe(before);
  });

  it('answers another owner, an unknown agent and a secret that is not set with not_found', async () => {
    await expectError(await put('OK', { value: CANARY }, bob), 404, 'not_found');
    await expectError(await put('OK', { value: CANARY }, alice, newId('agt')), 404, 'not_found');
    await expectError(await api.call('GET', `/v1/agents/${agentId}/secrets`, { token: bob }), 404, 'not_found');
    await expectError(
      await api.call('DELETE', `/v1/agents/${agentId}/secrets/NEVER_SET`, { token: alice }),
      404,
      'not_found',
    );
  });

  it('refuses a change while Temporal cannot be reached, recording nothing', async () => {
    workflows.failNextStarts(1);
    const res = await put('DOWN', { value: CANARY });
    const text = await res.clone().text();
    await expectError(res, 500, 'internal');
    expect(text).not.toContain(CANARY);
    expect((await store.listSecretMetadata('alice', agentId)).map((m) => m.name)).not.toContain('DOWN');
  });
});
