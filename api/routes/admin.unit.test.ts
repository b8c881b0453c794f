import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp } from '../app.js';
import { ChangeFeed } from '../change-feed.js';
import { operatorToken } from '../../lib/auth/platform-keys.js';
import { openStore, type Store } from '../../lib/store/index.js';
import { localAuth } from '../../test/helpers/auth.js';
import { client, expectError } from '../../test/helpers/http.js';
import { fakeWorkflows } from '../../test/helpers/workflows.js';

// PUT /admin/users/:userId/tier: what `npm run admin -- set-tier` calls while the platform runs.

let store: Store;
let changes: ChangeFeed;
let call: ReturnType<typeof client>;
let callWithoutOperator: ReturnType<typeof client>;
let userToken: string;
const operator = operatorToken(Buffer.alloc(32, 7));

beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  changes = new ChangeFeed(store);
  await changes.start();
  const auth = localAuth();
  userToken = await auth.token('alice');
  const deps = {
    store,
    authenticate: auth.authenticate,
    workflows: fakeWorkflows(),
    deployableRuntimes: ['local'] as const,
    log: pino({ level: 'silent' }),
    changes,
  };
  call = client(createApiApp({ ...deps, operatorToken: operator }));
  callWithoutOperator = client(createApiApp(deps));
});
afterAll(async () => {
  await changes?.close();
  await store?.close();
});

const setTier = (userId: string, body: unknown, token: string | null = operator) =>
  call('PUT', `/admin/users/${userId}/tier`, { token: token ?? undefined, body });

describe('PUT /admin/users/:userId/tier', () => {
  it('sets the tier with the operator token, audited; a user not seen yet is created', async () => {
    await store.ensureUser('alice', new Date());
    const res = await setTier('alice', { tier: 'pro' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: 'alice', tier: 'pro' });
    expect((await store.getUser('alice')).tier).toBe('pro');
    expect((await store.listAudit('alice', { limit: 5 })).items[0]).toMatchObject({
      actor: 'operator',
      action: 'user.tier_set',
      details: { from: 'free', to: 'pro' },
    });
    expect(await (await setTier('newcomer', { tier: 'starter' })).json()).toMatchObject({ tier: 'starter' });
  });

  it('a downgrade pauses the agents past the new tier, audited with the tier change; an upgrade resumes them', async () => {
    await store.ensureUser('dora', new Date(), 'pro');
    const ids = [];
    for (const name of ['one', 'two', 'three']) {
      const id = `agt_dora_${name}`;
      await store.createAgent({ id, ownerId: 'dora', name, runtime: 'local', now: new Date() });
      ids.push(id);
    }
    expect((await setTier('dora', { tier: 'free' })).status).toBe(200);
    const paused = await Promise.all(ids.map(async (id) => (await store.getAgent('dora', id)).pausedAt !== null));
    expect(paused).toEqual([false, true, true]);
    const entries = (await store.listAudit('dora', { limit: 10 })).items;
    expect(entries.find((e) => e.action === 'user.tier_set')?.details).toMatchObject({
      from: 'pro',
      to: 'free',
      paused: [ids[1], ids[2]],
    });
    expect(
      entries
        .filter((e) => e.action === 'agent.paused')
        .map((e) => e.targetId)
        .sort(),
    ).toEqual([ids[1], ids[2]].sort());

    await setTier('dora', { tier: 'starter' });
    for (const id of ids) expect((await store.getAgent('dora', id)).pausedAt).toBeNull();
  });

  it('refuses an unknown tier or a malformed body', async () => {
    await expectError(await setTier('alice', { tier: 'platinum' }), 400, 'validation_failed');
    await expectError(await setTier('alice', { tier: 'pro', extra: 1 }), 400, 'validation_failed');
  });

  it('refuses without the operator token: none, a wrong one, a user token, or a platform with none', async () => {
    for (const token of [null, 'wrong', `${operator}x`, userToken])
      await expectError(await setTier('alice', { tier: 'enterprise' }, token), 401, 'unauthorized');
    await expectError(
      await callWithoutOperator('PUT', '/admin/users/alice/tier', { token: operator, body: { tier: 'enterprise' } }),
      401,
      'unauthorized',
    );
    expect((await store.getUser('alice')).tier).toBe('pro');
  });
});
