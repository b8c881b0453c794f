import { describe, expect, it, vi } from 'vitest';
import { newTestBackend, serveOverHttp, testTransport } from '../../../test/helpers/convex.js';
import { AppError } from '../../contracts/index.js';
import { newId } from '../../ids.js';
import { describeStoreContract } from '../../../test/suites/store-contract.js';
import { openStore } from '../index.js';
import { followChanges } from './index.js';

// The store contract on Convex: each store is a fresh convex-test backend, reached through
// the same function references production calls over HTTP.
const secret = 'contract-suite-secret';
vi.stubEnv('WEBHOST_SERVICE_SECRET', secret);

describeStoreContract({
  name: 'convex (convex-test)',
  notifies: true,
  open: () => openStore({ kind: 'convex', transport: testTransport(newTestBackend()), serviceSecret: secret }),
});

describe('ConvexStore', () => {
  it('passes a refused service secret on as it is, not as an error meant for the caller', async () => {
    const store = await openStore({
      kind: 'convex',
      transport: testTransport(newTestBackend()),
      serviceSecret: 'not-the-secret',
    });
    const refused = store.getUser('usr_x');
    await expect(refused).rejects.toThrow(/service secret/);
    await expect(refused).rejects.not.toBeInstanceOf(AppError);
  });
});

describe('the Convex adapter over HTTP', () => {
  it('calls the same functions over HTTP, concurrently, refusals arriving as AppErrors', async () => {
    const convex = await serveOverHttp(newTestBackend());
    const store = await openStore({ kind: 'convex', url: convex.url, serviceSecret: secret });
    try {
      await store.ensureUser('usr_http', new Date());
      const agent = await store.createAgent({
        id: 'agt_http',
        ownerId: 'usr_http',
        name: 'over-http',
        runtime: 'local',
        now: new Date(),
      });
      expect(agent).toMatchObject({ id: 'agt_http', name: 'over-http', activeDeploymentId: null });
      const source = { type: 'files' as const, entry: 'index.js', files: { 'index.js': 'export default {}' } };
      const deploy = () =>
        store.createDeployment({
          id: newId('dep'),
          ownerId: 'usr_http',
          agentId: agent.id,
          workflowId: 'w',
          source,
          now: new Date(),
        });
      const results = await Promise.allSettled([deploy(), deploy()]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const refused = results.find((r) => r.status === 'rejected');
      expect(refused?.reason).toBeInstanceOf(AppError);
      expect(refused?.reason).toMatchObject({ code: 'conflict' });
      await expect(store.getAgent('usr_other', agent.id)).rejects.toMatchObject({ code: 'not_found' });
      await expect(
        (await openStore({ kind: 'convex', url: convex.url, serviceSecret: 'wrong' })).getUser('usr_http'),
      ).rejects.toThrow(/service secret/);
    } finally {
      await store.close();
      await convex.close();
    }
  });
});

describe('followChanges', () => {
  const change = (n: number) => ({ changeId: `c${n}` });
  /** A window of the newest changes up to `newest`, newest first, as `watch.recent` answers. */
  const windowUpTo = (newest: number, size: number) =>
    Array.from({ length: Math.min(size, newest) }, (_, i) => change(newest - i));

  it('reports what each result adds, oldest first, and nothing from the first result', () => {
    const seen: string[] = [];
    const gaps: number[] = [];
    const next = followChanges(
      5,
      (c) => seen.push(c.changeId),
      () => gaps.push(seen.length),
    );
    next(windowUpTo(3, 5));
    expect(seen).toEqual([]);
    next(windowUpTo(3, 5));
    next(windowUpTo(6, 5)); // three commits arrive as one result
    expect(seen).toEqual(['c4', 'c5', 'c6']);
    expect(gaps).toEqual([]);
  });

  it('reports a gap when a whole window is new: more may have happened than it shows', () => {
    const seen: string[] = [];
    let gaps = 0;
    const next = followChanges(
      5,
      (c) => seen.push(c.changeId),
      () => gaps++,
    );
    next(windowUpTo(2, 5));
    next(windowUpTo(20, 5));
    expect(gaps).toBe(1);
    expect(seen).toEqual(['c16', 'c17', 'c18', 'c19', 'c20']);
  });
});
