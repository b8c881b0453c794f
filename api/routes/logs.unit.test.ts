import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGS_PER_AGENT_MAX, type LogLine, type ShimLogLine } from '../../lib/contracts/index.js';
import { newId } from '../../lib/ids.js';
import { openStore, type Store } from '../../lib/store/index.js';
import { apiUnderTest } from '../../test/helpers/api.js';
import { expectError } from '../../test/helpers/http.js';
import { telemetryOwner } from '../../test/helpers/telemetry.js';
import { fakeWorkflows } from '../../test/helpers/workflows.js';

// GET /v1/agents/:id/logs over PGlite: the page, the live tail (SSE) and its resumption, the
// per-agent bound, and another owner's agent.

let store: Store;
let api: Awaited<ReturnType<typeof apiUnderTest>>;

beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  api = await apiUnderTest(store, fakeWorkflows(), { logTail: { pollMs: 50, heartbeatMs: 200, maxMs: 60_000 } });
});
afterAll(async () => {
  await api?.close();
  await store?.close();
});

const line = (message: string, over: Partial<ShimLogLine> = {}): ShimLogLine => ({
  id: `log:${newId('req')}`,
  at: new Date().toISOString(),
  level: 'log',
  message,
  ...over,
});
type Owner = Awaited<ReturnType<typeof telemetryOwner>>;
const append = (o: Owner, lines: ShimLogLine[], dropped = 0) =>
  store.appendLogs({ ownerId: o.ownerId, agentId: o.agentId, deploymentId: o.deploymentId, lines, dropped });

interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

/** Opens a tail and reads its events as they come; `close` cancels it. */
async function tail(o: { ownerId: string; agentId: string }, headers: Record<string, string> = {}) {
  const res = await api.app.request(`/v1/agents/${o.agentId}/logs`, {
    headers: { authorization: `Bearer ${await api.token(o.ownerId)}`, accept: 'text/event-stream', ...headers },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let buffer = '';
  /** Reads until `done(events)` holds, or fails after 5 s. */
  async function until(done: (events: SseEvent[]) => boolean): Promise<SseEvent[]> {
    const deadline = Date.now() + 5000;
    while (!done(events)) {
      if (Date.now() > deadline) throw new Error(`tail: gave up; got ${JSON.stringify(events)}`);
      const { value, done: ended } = await reader.read();
      if (ended) throw new Error(`tail ended; got ${JSON.stringify(events)}`);
      buffer += value;
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const e: SseEvent = { event: 'message', data: '' };
        let any = false;
        for (const row of block.split('\n')) {
          if (row.startsWith(':')) comments.push(row);
          else if (row.startsWith('id: ')) e.id = row.slice(4);
          else if (row.startsWith('event: ')) {
            e.event = row.slice(7);
            any = true;
          } else if (row.startsWith('data: ')) {
            e.data += row.slice(6);
            any = true;
          }
        }
        if (any) events.push(e);
      }
    }
    return events;
  }
  return { until, events, comments, close: () => reader.cancel() };
}
const logs = (events: SseEvent[]) =>
  events.filter((e) => e.event === 'log').map((e) => (JSON.parse(e.data) as LogLine).message);

describe('GET /v1/agents/:id/logs', () => {
  it('pages the lines newest first', async () => {
    const o = await telemetryOwner(store, 'pro');
    await append(o, [
      line('one', { requestId: 'req_1', sessionId: 'ses_1', level: 'warn' }),
      line('two'),
      line('three'),
    ]);
    const headers = { authorization: `Bearer ${await api.token(o.ownerId)}` };
    const res = await api.app.request(`/v1/agents/${o.agentId}/logs?limit=2`, { headers });
    expect(res.status).toBe(200);
    const page = (await res.json()) as { items: LogLine[]; nextCursor: string };
    expect(page.items.map((l) => l.message)).toEqual(['three', 'two']);
    const next = await api.app.request(`/v1/agents/${o.agentId}/logs?limit=2&cursor=${page.nextCursor}`, { headers });
    expect(await next.json()).toEqual({
      items: [
        expect.objectContaining({ message: 'one', level: 'warn', requestId: 'req_1', sessionId: 'ses_1', dropped: 0 }),
      ],
      nextCursor: null,
    });
  });

  it('tails: the newest lines, then a line appended after it started; a resume gets only later lines', async () => {
    const o = await telemetryOwner(store, 'pro');
    await append(o, [line('before')]);
    const t = await tail(o);
    await t.until((es) => logs(es).includes('before'));
    await append(o, [line('after 1'), line('after 2')]);
    const seen = await t.until((es) => logs(es).includes('after 2'));
    await t.close();
    expect(logs(seen)).toEqual(['before', 'after 1', 'after 2']);
    const ids = seen.filter((e) => e.event === 'log').map((e) => Number(e.id));
    expect(ids).toEqual([ids[0], ids[0]! + 1, ids[0]! + 2]);

    // a reconnect with the id of 'after 1' gets 'after 2' and what came since, nothing before
    await append(o, [line('while away')]);
    const again = await tail(o, { 'last-event-id': String(ids[1]) });
    const resumed = await again.until((es) => logs(es).includes('while away'));
    await again.close();
    expect(logs(resumed)).toEqual(['after 2', 'while away']);
  });

  it('tells a tail when the shim dropped lines', async () => {
    const o = await telemetryOwner(store, 'pro');
    await append(o, [line('first')]);
    const t = await tail(o);
    const [start] = await t.until((es) => logs(es).includes('first'));
    await append(o, [line('late')], 7);
    const seen = await t.until((es) => logs(es).includes('late'));
    const dropped = seen.find((e) => e.event === 'dropped')!;
    expect(JSON.parse(dropped.data)).toMatchObject({ dropped: 7, level: 'warn' });
    expect(dropped.id).toBe(String(Number(start!.id) + 1));
    await t.close();
  });

  it('sends heartbeats while idle', async () => {
    const o = await telemetryOwner(store, 'pro');
    const t = await tail(o);
    await t.until(() => t.comments.some((c) => c.includes('keep-alive')));
    await t.close();
  });

  it('keeps at most LOGS_PER_AGENT_MAX lines per agent, and a tail behind them hears how many it missed', async () => {
    const o = await telemetryOwner(store, 'pro');
    for (let i = 0; i < LOGS_PER_AGENT_MAX / 1000 + 1; i++) {
      await append(
        o,
        Array.from({ length: 1000 }, (_, j) => line(`${i}:${j}`)),
      );
    }
    const first = await store.listLogsAfter({ ownerId: o.ownerId, agentId: o.agentId, after: 0, limit: 1 });
    const newest = await store.listLogs({ ownerId: o.ownerId, agentId: o.agentId, limit: 1 });
    expect(newest.items[0]!.seq - first[0]!.seq + 1).toBe(LOGS_PER_AGENT_MAX);
    expect(first[0]!.message).toBe('1:0');

    const t = await tail(o, { 'last-event-id': '10' });
    const [gap] = await t.until((es) => es.length > 0);
    await t.close();
    expect(gap).toMatchObject({ event: 'dropped' });
    expect(JSON.parse(gap!.data)).toEqual({ dropped: first[0]!.seq - 11, afterSeq: 10 });
  });

  it("answers 404 for another owner's agent, as a page and as a tail, and 401 without a token", async () => {
    const o = await telemetryOwner(store, 'pro');
    await append(o, [line('private')]);
    const stranger = newId('usr');
    const as = async (accept: string) =>
      api.app.request(`/v1/agents/${o.agentId}/logs`, {
        headers: { authorization: `Bearer ${await api.token(stranger)}`, accept },
      });
    await expectError(await as('application/json'), 404, 'not_found');
    await expectError(await as('text/event-stream'), 404, 'not_found');
    await expectError(await api.app.request(`/v1/agents/${o.agentId}/logs`), 401, 'unauthorized');
    await expectError(
      await api.app.request(`/v1/agents/${o.agentId}/logs?limit=1000`, {
        headers: { authorization: `Bearer ${await api.token(o.ownerId)}` },
      }),
      400,
      'validation_failed',
    );
  });
});
