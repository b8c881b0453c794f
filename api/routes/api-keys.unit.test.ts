import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../lib/auth/api-keys.js';
import { ApiKeyView, CreatedApiKey } from '../../lib/contracts/index.js';
import { newId } from '../../lib/ids.js';
import { API_KEYS_PER_OWNER } from '../../lib/limits.js';
import { openStore, type Store } from '../../lib/store/index.js';
import { apiUnderTest } from '../../test/helpers/api.js';
import { expectError } from '../../test/helpers/http.js';
import { fakeWorkflows } from '../../test/helpers/workflows.js';

// /v1/api-keys over PGlite: a key is shown once, listed by prefix, scoped by owner, limited,
// and audited. The gateway's side (invoking with a key, revocation): gateway/routes/invoke.test.ts.

let store: Store;
let api: Awaited<ReturnType<typeof apiUnderTest>>;
const tokens: Record<string, string> = {};
let agentId: string;

beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  api = await apiUnderTest(store, fakeWorkflows());
  for (const user of ['alice', 'bob', 'carol']) {
    tokens[user] = await api.token(user);
    await store.ensureUser(user, new Date());
  }
  agentId = (
    await store.createAgent({ id: newId('agt'), ownerId: 'alice', name: 'k', runtime: 'local', now: new Date() })
  ).id;
});
afterAll(async () => {
  await api?.close();
  await store?.close();
});

const create = (body: unknown, user = 'alice', headers: Record<string, string> = {}) =>
  api.call('POST', '/v1/api-keys', { token: tokens[user]!, body, headers });
const list = async (user = 'alice') => {
  const res = await api.call('GET', '/v1/api-keys', { token: tokens[user]! });
  expect(res.status).toBe(200);
  const { items } = (await res.json()) as { items: unknown[] };
  return items.map((i) => ApiKeyView.strict().parse(i));
};
const revoke = (id: string, user = 'alice') => api.call('DELETE', `/v1/api-keys/${id}`, { token: tokens[user]! });

describe('POST/GET/DELETE /v1/api-keys: happy', () => {
  it('shows the key once, lists it by prefix only, and revokes it', async () => {
    const res = await create({ name: 'ci' });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const created = CreatedApiKey.strict().parse(await res.json());
    expect(created.key).toMatch(/^whk_[A-Za-z0-9_-]{43}$/);
    expect(created).toMatchObject({ id: expect.stringMatching(/^key_/), name: 'ci', agentId: null, revokedAt: null });
    expect(created.prefix).toBe(created.key.slice(0, 12));
    expect(await store.findApiKeyByHash(hashApiKey(created.key))).toEqual({
      id: created.id,
      ownerId: 'alice',
      agentId: null,
    });

    const listed = (await list()).find((k) => k.id === created.id)!;
    expect(listed).toEqual({ ...created, key: undefined, revokedAt: null });
    const raw = await (await api.call('GET', '/v1/api-keys', { token: tokens.alice! })).text();
    expect(raw).not.toContain(created.key);
    expect(raw).not.toContain(hashApiKey(created.key));

    expect((await revoke(created.id)).status).toBe(204);
    const after = (await list()).find((k) => k.id === created.id)!;
    expect(after.revokedAt).not.toBeNull();
    expect(await store.findApiKeyByHash(hashApiKey(created.key))).toBeNull();
    // revoking again is fine and keeps the first time
    expect((await revoke(created.id)).status).toBe(204);
    expect((await list()).find((k) => k.id === created.id)!.revokedAt).toBe(after.revokedAt);

    const audit = (await store.listAudit('alice', { limit: 100 })).items.filter((e) => e.targetId === created.id);
    expect(audit.map((e) => [e.action, e.actor])).toEqual([
      ['api_key.revoked', 'user:alice'],
      ['api_key.created', 'user:alice'],
    ]);
    expect(JSON.stringify(audit)).not.toContain(created.key);
  });

  it('binds a key to one of the caller’s agents', async () => {
    const res = await create({ name: 'bound', agentId });
    expect(res.status).toBe(201);
    const created = CreatedApiKey.parse(await res.json());
    expect(created.agentId).toBe(agentId);
    expect((await list()).find((k) => k.id === created.id)!.agentId).toBe(agentId);
    expect((await store.findApiKeyByHash(hashApiKey(created.key)))!.agentId).toBe(agentId);
  });
});

describe('/v1/api-keys: errors', () => {
  it('refuses bad bodies with 400, creating nothing', async () => {
    const before = (await list()).length;
    for (const body of [
      {},
      { name: '' },
      { name: '   ' },
      { name: 'x'.repeat(65) },
      { name: 7 },
      { name: 'ok', agentId: 'not an id' },
      { name: 'ok', extra: 1 },
      { name: 'ok', ownerId: 'bob' },
    ]) {
      await expectError(await create(body), 400, 'validation_failed');
    }
    await expectError(
      await api.call('POST', '/v1/api-keys', { token: tokens.alice!, rawBody: '{nope' }),
      400,
      'validation_failed',
    );
    expect((await list()).length).toBe(before);
  });

  it('refuses Idempotency-Key: its stored answer would hold the key', async () => {
    const err = await expectError(
      await create({ name: 'retry' }, 'alice', { 'Idempotency-Key': 'k-1' }),
      400,
      'validation_failed',
    );
    expect(err.message).toContain('Idempotency-Key');
    expect((await list()).some((k) => k.name === 'retry')).toBe(false);
  });

  it('refuses an agent that is not the caller’s with 404', async () => {
    await expectError(await create({ name: 'x', agentId }, 'bob'), 404, 'not_found');
    await expectError(await create({ name: 'x', agentId: newId('agt') }), 404, 'not_found');
    expect(await list('bob')).toEqual([]);
  });

  it(`refuses more than ${API_KEYS_PER_OWNER} unrevoked keys with 409, until one is revoked`, async () => {
    const ids: string[] = [];
    for (let i = 0; i < API_KEYS_PER_OWNER; i++) {
      const res = await create({ name: `k${i}` }, 'carol');
      expect(res.status).toBe(201);
      ids.push(CreatedApiKey.parse(await res.json()).id);
    }
    const err = await expectError(await create({ name: 'one more' }, 'carol'), 409, 'conflict');
    expect(err.message).toContain(`at most ${API_KEYS_PER_OWNER} unrevoked API keys`);
    expect((await revoke(ids[0]!, 'carol')).status).toBe(204);
    expect((await create({ name: 'one more' }, 'carol')).status).toBe(201);
  });
});

describe('/v1/api-keys: security', () => {
  it('hides another owner’s keys: not listed, and revoking one is 404 and changes nothing', async () => {
    const created = CreatedApiKey.parse(await (await create({ name: 'mine' })).json());
    expect((await list('bob')).some((k) => k.id === created.id)).toBe(false);
    await expectError(await revoke(created.id, 'bob'), 404, 'not_found');
    await expectError(await revoke(newId('key')), 404, 'not_found');
    expect((await list()).find((k) => k.id === created.id)!.revokedAt).toBeNull();
  });

  it('needs a user token: none, a forged one, or an API key are 401', async () => {
    const created = CreatedApiKey.parse(await (await create({ name: 'not for the api' })).json());
    await expectError(await api.call('GET', '/v1/api-keys'), 401, 'unauthorized');
    await expectError(await api.call('GET', '/v1/api-keys', { token: 'forged.token.here' }), 401, 'unauthorized');
    // a key cannot manage keys (nor anything else in the api)
    await expectError(await api.call('GET', '/v1/api-keys', { token: created.key }), 401, 'unauthorized');
    await expectError(
      await api.call('POST', '/v1/api-keys', { headers: { 'x-api-key': created.key }, body: { name: 'x' } }),
      401,
      'unauthorized',
    );
    const res = await api.call('DELETE', `/v1/api-keys/${created.id}`, { token: created.key });
    const text = await res.text();
    expect(res.status).toBe(401);
    expect(text).not.toContain(created.key);
  });
});
