import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../lib/ids.js';
import { openStore, type Store } from '../../lib/store/index.js';
import { apiUnderTest } from '../../test/helpers/api.js';
import { expectError } from '../../test/helpers/http.js';
import { fakeWorkflows } from '../../test/helpers/workflows.js';

// GET /v1/account and GET /v1/audit over PGlite.

let store: Store;
let api: Awaited<ReturnType<typeof apiUnderTest>>;

beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  api = await apiUnderTest(store, fakeWorkflows());
});
afterAll(async () => {
  await api?.close();
  await store?.close();
});

describe('account', () => {
  it('tells the caller its tier, what it allows, and the period’s requests against the limit', async () => {
    const token = await api.token('acct-user');
    const res = await api.call('GET', '/v1/account', { token });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      userId: 'acct-user',
      tier: 'pro',
      addOns: [],
      entitlements: {
        agents: null,
        runtimes: ['local', 'cloudflare'],
        requestsPerPeriod: 1_000_000,
        retentionDays: 90,
      },
      period: { id: new Date().toISOString().slice(0, 7), requests: 0, limit: 1_000_000 },
    });
    await store.setUserAddOns({ userId: 'acct-user', addOns: ['agentcore'], now: new Date() });
    const withAddOn = (await (await api.call('GET', '/v1/account', { token })).json()) as {
      entitlements: { runtimes: string[] };
    };
    expect(withAddOn.entitlements.runtimes).toEqual(['local', 'cloudflare', 'agentcore']);
    await expectError(await api.call('GET', '/v1/account', {}), 401, 'unauthorized');
  });

  it('pages the caller’s own audit log, newest first', async () => {
    const token = await api.token('audit-user');
    await api.call('GET', '/v1/account', { token });
    for (const action of ['one', 'two', 'three'])
      await store.appendAudit({
        ownerId: 'audit-user',
        actor: 'user:audit-user',
        action,
        targetType: 'agent',
        targetId: newId('agt'),
        now: new Date(),
      });
    const first = (await (await api.call('GET', '/v1/audit?limit=2', { token })).json()) as {
      items: { action: string }[];
      nextCursor: string;
    };
    expect(first.items.map((e) => e.action)).toEqual(['three', 'two']);
    const second = (await (
      await api.call('GET', `/v1/audit?limit=2&cursor=${first.nextCursor}`, { token })
    ).json()) as { items: { action: string }[] };
    expect(second.items.map((e) => e.action)).toEqual(['one']);
    const other = await api.token('audit-other');
    expect(
      ((await (await api.call('GET', '/v1/audit', { token: other })).json()) as { items: unknown[] }).items,
    ).toEqual([]);
  });
});
