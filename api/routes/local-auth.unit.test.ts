import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../lib/store/index.js';
import { apiUnderTest } from '../../test/helpers/api.js';
import { expectError } from '../../test/helpers/http.js';
import { fakeWorkflows } from '../../test/helpers/workflows.js';

// POST /auth/local-token: the dashboard's sign-in when auth is local, refused otherwise.

let store: Store;
let local: Awaited<ReturnType<typeof apiUnderTest>>;
let clerk: Awaited<ReturnType<typeof apiUnderTest>>;

beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  local = await apiUnderTest(store, fakeWorkflows(), { localSignIn: true });
  clerk = await apiUnderTest(store, fakeWorkflows());
});
afterAll(async () => {
  await local?.close();
  await clerk?.close();
  await store?.close();
});

describe('local sign-in', () => {
  it('gives a token that the api accepts as that user', async () => {
    const res = await local.call('POST', '/auth/local-token', { body: { userId: 'dash-alice' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const { token, userId, mode } = (await res.json()) as { token: string; userId: string; mode: string };
    expect({ userId, mode }).toEqual({ userId: 'dash-alice', mode: 'local' });
    const account = await local.call('GET', '/v1/account', { token });
    expect(((await account.json()) as { userId: string }).userId).toBe('dash-alice');
  });

  it('refuses a user id that is not one', async () => {
    await expectError(
      await local.call('POST', '/auth/local-token', { body: { userId: '../admin' } }),
      400,
      'validation_failed',
    );
    await expectError(await local.call('POST', '/auth/local-token', { body: {} }), 400, 'validation_failed');
  });

  it('is refused when the platform does not run local auth (Clerk)', async () => {
    const res = await clerk.call('POST', '/auth/local-token', { body: { userId: 'dash-alice' } });
    await expectError(res, 403, 'forbidden');
  });
});
