import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { telemetryKeys } from '../../lib/auth/platform-keys.js';
import {
  LOG_MESSAGE_MAX,
  periodOf,
  TELEMETRY_BATCH_MAX,
  TELEMETRY_MAX_BODY_BYTES,
  TELEMETRY_SIGNATURE_HEADER,
  TELEMETRY_TIMESTAMP_HEADER,
  TELEMETRY_DEPLOYMENT_HEADER,
  type TelemetryEvent,
} from '../../lib/contracts/index.js';
import { newId } from '../../lib/ids.js';
import { openStore, type Store } from '../../lib/store/index.js';
import { signTelemetry, telemetryHeaders } from '../../lib/telemetry/signing.js';
import { apiUnderTest } from '../../test/helpers/api.js';
import { expectError } from '../../test/helpers/http.js';
import { telemetryOwner } from '../../test/helpers/telemetry.js';
import { fakeWorkflows } from '../../test/helpers/workflows.js';

// POST /v1/telemetry over PGlite: what the shim's signed batches count, and every way a forged,
// replayed, stale, cross-tenant or oversized batch is refused while counting nothing.

let store: Store;
let api: Awaited<ReturnType<typeof apiUnderTest>>;
const key = telemetryKeys(randomBytes(32));

beforeAll(async () => {
  store = await openStore({ kind: 'pglite', dataDir: undefined });
  api = await apiUnderTest(store, fakeWorkflows(), { telemetryKey: key });
});
afterAll(async () => {
  await api?.close();
  await store?.close();
});

const invocation = (computeMs = 25): TelemetryEvent => ({
  id: `inv:${newId('req')}`,
  at: new Date().toISOString(),
  kind: 'invocation',
  ok: true,
  computeMs,
  requestId: newId('req'),
});
const background = (computeMs = 40): TelemetryEvent => ({
  id: `bg:${newId('req')}`,
  at: new Date().toISOString(),
  kind: 'background',
  ok: false,
  computeMs,
  inputTokens: 7,
  outputTokens: 3,
});

/** Posts `body` as the shim would, signed with `signWith` (the deployment's own key unless told). */
function post(
  deploymentId: string,
  body: string,
  opts: { signWith?: Buffer; now?: Date; headers?: Record<string, string | null> } = {},
) {
  const headers: Record<string, string> = telemetryHeaders({
    key: opts.signWith ?? key(deploymentId),
    deploymentId,
    body,
    ...(opts.now ? { now: opts.now } : {}),
  });
  for (const [name, value] of Object.entries(opts.headers ?? {})) {
    if (value === null) delete headers[name];
    else headers[name] = value;
  }
  return api.app.request('/v1/telemetry', { method: 'POST', headers, body });
}

/** What the store counted for an owner's agent: raw events and the period's compute and errors. */
async function counted(o: { ownerId: string; agentId: string }) {
  const events = (await store.listUsageEvents({ ownerId: o.ownerId, agentId: o.agentId, limit: 100 })).items;
  const usage = await store.getUsage({ ownerId: o.ownerId, period: periodOf(new Date()) });
  const sum = (k: 'computeMs' | 'errors' | 'inputTokens') => usage.reduce((n, u) => n + u[k], 0);
  return {
    ids: events.map((e) => e.id).sort(),
    computeMs: sum('computeMs'),
    errors: sum('errors'),
    inputTokens: sum('inputTokens'),
  };
}
const nothing = { ids: [], computeMs: 0, errors: 0, inputTokens: 0 };

describe('telemetry: signed batches that count', () => {
  it('counts a valid batch: compute of invocations and background work, background errors and tokens', async () => {
    const o = await telemetryOwner(store, 'pro');
    const events = [invocation(25), background(40)];
    const res = await post(o.deploymentId, JSON.stringify({ agentId: o.agentId, events }));
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 2, duplicates: 0 });
    expect(await counted(o)).toEqual({
      ids: events.map((e) => e.id).sort(),
      computeMs: 65,
      errors: 1,
      inputTokens: 7,
    });
  });

  it('counts a batch once when it is redelivered ten times at once', async () => {
    const o = await telemetryOwner(store, 'pro');
    const events = [invocation(10), invocation(20), background(30)];
    const body = JSON.stringify({ agentId: o.agentId, events });
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(o.deploymentId, body)));
    const results = await Promise.all(
      answers.map(async (r) => {
        expect(r.status).toBe(202);
        return (await r.json()) as { accepted: number; duplicates: number };
      }),
    );
    expect(results.reduce((n, r) => n + r.accepted, 0)).toBe(3);
    expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(27);
    expect(await counted(o)).toMatchObject({ ids: events.map((e) => e.id).sort(), computeMs: 60, errors: 1 });
  });

  it('counts a replay of a valid batch within the window nothing more', async () => {
    const o = await telemetryOwner(store, 'pro');
    const body = JSON.stringify({ agentId: o.agentId, events: [invocation(50)] });
    const first = await post(o.deploymentId, body);
    expect(await first.json()).toEqual({ accepted: 1, duplicates: 0 });
    const before = await counted(o);
    const replay = await post(o.deploymentId, body);
    expect(replay.status).toBe(202);
    expect(await replay.json()).toEqual({ accepted: 0, duplicates: 1 });
    // an old batch posted again, with new events added and signed anew, counts only the new ones
    const again = await post(o.deploymentId, body.replace('"events":[', `"events":[${JSON.stringify(invocation(5))},`));
    expect(await again.json()).toEqual({ accepted: 1, duplicates: 1 });
    expect((await counted(o)).computeMs).toBe(before.computeMs + 5);
  });
});

describe('telemetry: log lines in a signed batch', () => {
  const line = (message: string, over: Record<string, unknown> = {}) => ({
    id: `log:${newId('req')}`,
    at: new Date().toISOString(),
    level: 'log',
    message,
    ...over,
  });
  const kept = async (o: { ownerId: string; agentId: string }) =>
    (await store.listLogsAfter({ ownerId: o.ownerId, agentId: o.agentId, after: 0, limit: 100 })).map((l) => ({
      message: l.message,
      requestId: l.requestId,
      dropped: l.dropped,
    }));

  it('keeps the lines of a valid batch once, with or without events, and a line for the dropped ones', async () => {
    const o = await telemetryOwner(store, 'pro');
    const lines = [line('hello', { requestId: 'req_abc', sessionId: 'ses_1' }), line('again')];
    const body = JSON.stringify({ agentId: o.agentId, events: [invocation(5)], logs: lines, droppedLogs: 2 });
    const res = await post(o.deploymentId, body);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 1, duplicates: 0, logs: { accepted: 3, duplicates: 0 } });
    expect(await (await post(o.deploymentId, body)).json()).toMatchObject({ logs: { accepted: 0, duplicates: 3 } });
    const onlyLogs = await post(o.deploymentId, JSON.stringify({ agentId: o.agentId, events: [], logs: [line('x')] }));
    expect(await onlyLogs.json()).toEqual({ accepted: 0, duplicates: 0, logs: { accepted: 1, duplicates: 0 } });
    expect(await kept(o)).toEqual([
      { message: "2 log lines were dropped by the agent's shim", requestId: null, dropped: 2 },
      { message: 'hello', requestId: 'req_abc', dropped: 0 },
      { message: 'again', requestId: null, dropped: 0 },
      { message: 'x', requestId: null, dropped: 0 },
    ]);
  });

  it('keeps no line of a forged, cross-agent or malformed batch', async () => {
    const o = await telemetryOwner(store, 'pro');
    const other = await telemetryOwner(store, 'pro');
    const body = JSON.stringify({ agentId: o.agentId, events: [], logs: [line('forged')] });
    await expectError(await post(o.deploymentId, body, { signWith: randomBytes(32) }), 401, 'unauthorized');
    await expectError(await post(other.deploymentId, body), 403, 'forbidden');
    const bad = (logs: unknown[], extra: Record<string, unknown> = {}) =>
      post(o.deploymentId, JSON.stringify({ agentId: o.agentId, events: [], logs, ...extra }));
    await expectError(await bad([line('x', { id: 'inv:1' })]), 400, 'validation_failed');
    await expectError(await bad([line('x'.repeat(LOG_MESSAGE_MAX + 1))]), 400, 'validation_failed');
    await expectError(await bad([line('x', { level: 'fatal' })]), 400, 'validation_failed');
    await expectError(await bad([]), 400, 'validation_failed');
    await expectError(await bad([], { droppedLogs: 3 }), 400, 'validation_failed');
    expect(await kept(o)).toEqual([]);
  });
});

describe('telemetry: forged batches are refused and count nothing', () => {
  it('refuses a batch without its signature, deployment or timestamp', async () => {
    const o = await telemetryOwner(store, 'pro');
    const body = JSON.stringify({ agentId: o.agentId, events: [invocation()] });
    for (const header of [TELEMETRY_SIGNATURE_HEADER, TELEMETRY_DEPLOYMENT_HEADER, TELEMETRY_TIMESTAMP_HEADER]) {
      await expectError(await post(o.deploymentId, body, { headers: { [header]: null } }), 401, 'unauthorized');
    }
    await expectError(
      await post(o.deploymentId, body, { headers: { [TELEMETRY_SIGNATURE_HEADER]: '' } }),
      401,
      'unauthorized',
    );
    await expectError(
      await post(o.deploymentId, body, { headers: { [TELEMETRY_TIMESTAMP_HEADER]: 'soon' } }),
      401,
      'unauthorized',
    );
    expect(await counted(o)).toEqual(nothing);
  });

  it('refuses a wrong signature, another deployment’s key, and a body or timestamp changed after signing', async () => {
    const o = await telemetryOwner(store, 'pro');
    const other = await telemetryOwner(store, 'pro');
    const body = JSON.stringify({ agentId: o.agentId, events: [invocation()] });
    const refused = async (res: Response) => {
      const error = await expectError(res, 401, 'unauthorized');
      expect(error.message).toBe('missing or invalid telemetry signature');
    };
    await refused(await post(o.deploymentId, body, { headers: { [TELEMETRY_SIGNATURE_HEADER]: 'ab'.repeat(32) } }));
    await refused(await post(o.deploymentId, body, { headers: { [TELEMETRY_SIGNATURE_HEADER]: 'not hex' } }));
    // signed with another deployment's (valid) key, claiming this deployment
    await refused(await post(o.deploymentId, body, { signWith: key(other.deploymentId) }));
    // signed with a key derived from another master key (another platform, or a guess)
    await refused(await post(o.deploymentId, body, { signWith: telemetryKeys(randomBytes(32))(o.deploymentId) }));
    // body altered after signing: more compute claimed
    const signed = telemetryHeaders({ key: key(o.deploymentId), deploymentId: o.deploymentId, body });
    const altered = body.replace('"computeMs":25', '"computeMs":999999');
    expect(altered).not.toBe(body);
    await refused(await api.app.request('/v1/telemetry', { method: 'POST', headers: signed, body: altered }));
    // the timestamp moved after signing (to stretch a batch's life)
    const moved = { ...signed, [TELEMETRY_TIMESTAMP_HEADER]: String(Number(signed[TELEMETRY_TIMESTAMP_HEADER]) + 1) };
    await refused(await api.app.request('/v1/telemetry', { method: 'POST', headers: moved, body }));
    // a signature over the body alone, without the timestamp
    const bodyOnly = signTelemetry(key(o.deploymentId), '', body);
    await refused(await post(o.deploymentId, body, { headers: { [TELEMETRY_SIGNATURE_HEADER]: bodyOnly } }));
    expect(await counted(o)).toEqual(nothing);
    expect(await counted(other)).toEqual(nothing);
  });

  it('refuses a batch signed more than 300 s ago or for later, however well signed', async () => {
    const o = await telemetryOwner(store, 'pro');
    const body = JSON.stringify({ agentId: o.agentId, events: [invocation()] });
    const stale = await post(o.deploymentId, body, { now: new Date(Date.now() - 301_000) });
    expect((await expectError(stale, 401, 'unauthorized')).message).toContain('300 s');
    await expectError(await post(o.deploymentId, body, { now: new Date(Date.now() + 301_000) }), 401, 'unauthorized');
    // within the window either way is fine (clocks differ a little)
    expect((await post(o.deploymentId, body, { now: new Date(Date.now() - 250_000) })).status).toBe(202);
    expect((await counted(o)).ids).toHaveLength(1);
  });

  it('answers an unknown deployment exactly as a wrong signature, even signed with its would-be key', async () => {
    const o = await telemetryOwner(store, 'pro');
    const unknown = newId('dep');
    const body = JSON.stringify({ agentId: o.agentId, events: [invocation()] });
    const error = await expectError(await post(unknown, body), 401, 'unauthorized');
    expect(error.message).toBe('missing or invalid telemetry signature');
    await expectError(await post('../not-an-id', body), 401, 'unauthorized');
    expect(await counted(o)).toEqual(nothing);
  });

  it('refuses a valid key of deployment A claiming agent B, of the same owner or another', async () => {
    const a = await telemetryOwner(store, 'pro');
    const b = await telemetryOwner(store, 'pro');
    const sibling = await store.createAgent({
      id: newId('agt'),
      ownerId: a.ownerId,
      name: 'sibling',
      runtime: 'local',
      now: new Date(),
    });
    for (const claimed of [b.agentId, sibling.id]) {
      const body = JSON.stringify({ agentId: claimed, events: [invocation()] });
      await expectError(await post(a.deploymentId, body), 403, 'forbidden');
    }
    // and B's deployment id with A's key is a bad signature, not B's telemetry
    const asB = JSON.stringify({ agentId: b.agentId, events: [invocation()] });
    await expectError(await post(b.deploymentId, asB, { signWith: key(a.deploymentId) }), 401, 'unauthorized');
    expect(await counted(a)).toEqual(nothing);
    expect(await counted(b)).toEqual(nothing);
    expect(await counted({ ownerId: a.ownerId, agentId: sibling.id })).toEqual(nothing);
  });

  it('refuses an oversized body, declared or streamed, before reading it', async () => {
    const o = await telemetryOwner(store, 'pro');
    const big = JSON.stringify({
      agentId: o.agentId,
      events: [invocation()],
      pad: 'x'.repeat(TELEMETRY_MAX_BODY_BYTES),
    });
    await expectError(await post(o.deploymentId, big), 413, 'payload_too_large');
    const headers = telemetryHeaders({ key: key(o.deploymentId), deploymentId: o.deploymentId, body: big });
    const chunk = new TextEncoder().encode(big.slice(0, 64 * 1024));
    let sent = 0;
    const streamed = new ReadableStream<Uint8Array>({
      pull(controller) {
        // finite, twice the limit: a refused stream is never read to its end
        if (sent >= 2 * TELEMETRY_MAX_BODY_BYTES) controller.close();
        else {
          controller.enqueue(chunk);
          sent += chunk.byteLength;
        }
      },
    });
    const res = await api.app.request('/v1/telemetry', {
      method: 'POST',
      headers: { ...headers, 'transfer-encoding': 'chunked' },
      body: streamed,
      duplex: 'half',
    } as RequestInit);
    await expectError(res, 413, 'payload_too_large');
    expect(await counted(o)).toEqual(nothing);
  });

  it('refuses too many events, malformed JSON, and events that are not a shim’s', async () => {
    const o = await telemetryOwner(store, 'pro');
    const many = Array.from({ length: TELEMETRY_BATCH_MAX + 1 }, () => invocation(1));
    const tooMany = JSON.stringify({ agentId: o.agentId, events: many });
    expect(Buffer.byteLength(tooMany)).toBeLessThan(TELEMETRY_MAX_BODY_BYTES);
    await expectError(await post(o.deploymentId, tooMany), 400, 'validation_failed');
    await expectError(await post(o.deploymentId, '{"agentId": "'), 400, 'validation_failed');
    await expectError(await post(o.deploymentId, '\xff\xfe'), 400, 'validation_failed');
    const bad = (events: unknown[]) => JSON.stringify({ agentId: o.agentId, events });
    // a gateway request id: a shim must not pre-empt the request the gateway meters
    await expectError(
      await post(o.deploymentId, bad([{ ...invocation(), id: newId('req') }])),
      400,
      'validation_failed',
    );
    await expectError(await post(o.deploymentId, bad([{ ...invocation(), computeMs: -5 }])), 400, 'validation_failed');
    await expectError(
      await post(o.deploymentId, bad([{ ...invocation(), kind: 'request' }])),
      400,
      'validation_failed',
    );
    const twice = invocation();
    await expectError(await post(o.deploymentId, bad([twice, twice])), 400, 'validation_failed');
    await expectError(await post(o.deploymentId, bad([])), 400, 'validation_failed');
    await expectError(
      await post(o.deploymentId, JSON.stringify({ agentId: o.agentId, ownerId: 'usr_x', events: [invocation()] })),
      400,
      'validation_failed',
    );
    expect(await counted(o)).toEqual(nothing);
  });

  it('refuses every batch when the api has no telemetry key', async () => {
    const bare = await apiUnderTest(store, fakeWorkflows());
    try {
      const o = await telemetryOwner(store, 'pro');
      const body = JSON.stringify({ agentId: o.agentId, events: [invocation()] });
      const headers = telemetryHeaders({ key: key(o.deploymentId), deploymentId: o.deploymentId, body });
      await expectError(
        await bare.app.request('/v1/telemetry', { method: 'POST', headers, body }),
        401,
        'unauthorized',
      );
      expect(await counted(o)).toEqual(nothing);
    } finally {
      await bare.close();
    }
  });
});
