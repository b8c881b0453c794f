import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiUnderTest } from '../../test/helpers/api.js';
import { telemetryOwner } from '../../test/helpers/telemetry.js';
import { fakeWorkflows } from '../../test/helpers/workflows.js';
import { newId } from '../ids.js';
import { openStore, type Store } from '../store/index.js';
import { FollowError, followLogs } from './follow.js';

// `webhost logs --follow`'s reader against the api over PGlite, whose tails end every 300 ms
// here: it reconnects after each end, resuming after the last line, and says what was dropped.

let store: Store;
let api: Awaited<ReturnType<typeof apiUnderTest>>;
beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  api = await apiUnderTest(store, fakeWorkflows(), { logTail: { pollMs: 30, heartbeatMs: 100, maxMs: 300 } });
});
afterAll(async () => {
  await api?.close();
  await store?.close();
});

const line = (message: string) => ({
  id: `log:${newId('req')}`,
  at: new Date().toISOString(),
  level: 'log' as const,
  message,
});
const waitFor = async (ok: () => boolean) => {
  const deadline = Date.now() + 5000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('gave up waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('followLogs', () => {
  it('reconnects when a tail ends, resuming after the last line, and reports dropped lines', async () => {
    const o = await telemetryOwner(store, 'pro');
    const append = (messages: string[], dropped = 0) => store.appendLogs({ ...o, lines: messages.map(line), dropped });
    await append(['a']);
    const seen: string[] = [];
    const dropped: number[] = [];
    const reconnects: string[] = [];
    const stop = new AbortController();
    const following = followLogs(
      {
        url: `/v1/agents/${o.agentId}/logs`,
        headers: { authorization: `Bearer ${await api.token(o.ownerId)}` },
        signal: stop.signal,
        fetch: async (url, init) => api.app.request(url, init),
        retryMs: 10,
      },
      { line: (l) => seen.push(l.message), dropped: (n) => dropped.push(n), reconnecting: (r) => reconnects.push(r) },
    );
    await waitFor(() => seen.includes('a'));
    await waitFor(() => reconnects.length >= 1);
    await append(['b', 'c'], 4);
    await waitFor(() => seen.includes('c'));
    await waitFor(() => reconnects.length >= 3);
    await append(['d']);
    await waitFor(() => seen.includes('d'));
    stop.abort();
    await following;
    expect(seen).toEqual(['a', 'b', 'c', 'd']);
    expect(dropped).toEqual([4]);
    expect(reconnects[0]).toBe('the stream ended');
  });

  it("stops with an error for another owner's agent instead of retrying", async () => {
    const o = await telemetryOwner(store, 'pro');
    const follow = followLogs(
      {
        url: `/v1/agents/${o.agentId}/logs`,
        headers: { authorization: `Bearer ${await api.token(newId('usr'))}` },
        fetch: async (url, init) => api.app.request(url, init),
      },
      { line: () => undefined, dropped: () => undefined, reconnecting: () => undefined },
    );
    await expect(follow).rejects.toBeInstanceOf(FollowError);
  });
});
