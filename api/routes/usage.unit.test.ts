import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateCostUsd, type MeteredRequest, type MetricPoint, type UsageReport } from '../../lib/contracts/index.js';
import { newId } from '../../lib/ids.js';
import { openStore, type Store } from '../../lib/store/index.js';
import { apiUnderTest } from '../../test/helpers/api.js';
import { agentWithDeployment } from '../../test/helpers/fixtures.js';
import { expectError } from '../../test/helpers/http.js';
import { fakeWorkflows } from '../../test/helpers/workflows.js';

// GET /v1/usage and GET /v1/agents/:id/metrics over PGlite, from metered requests.

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

const request = (
  a: { ownerId: string; agentId: string; deploymentId: string },
  at: string,
  over: Partial<MeteredRequest> = {},
): MeteredRequest => ({
  id: newId('req'),
  at,
  ...a,
  runtime: 'local',
  status: 200,
  durationMs: 20,
  inputBytes: 10,
  outputBytes: 30,
  inputTokens: 5,
  outputTokens: 9,
  sessionId: null,
  endUser: null,
  apiKeyId: null,
  ...over,
});

describe('usage', () => {
  it('reports a period’s totals, cost, and breakdowns by runtime, agent and end user — the caller’s only', async () => {
    const token = await api.token('usage-user');
    await api.call('GET', '/v1/account', { token }); // first sight makes the user
    const chat = await agentWithDeployment(store, 'usage-user', { name: 'chat' });
    const search = await agentWithDeployment(store, 'usage-user', { name: 'search' });
    await store.recordRequests([
      request(chat, '2026-06-02T10:00:00.000Z', { endUser: 'alice@customer' }),
      request(chat, '2026-06-02T10:30:00.000Z', { endUser: 'alice@customer', status: 503 }),
      request(chat, '2026-06-03T08:00:00.000Z', { endUser: 'bob@customer' }),
      request(search, '2026-06-04T00:00:00.000Z', { runtime: 'cloudflare' }),
      request(search, '2026-07-01T00:00:00.000Z'), // another period
    ]);

    const res = await api.call('GET', '/v1/usage?period=2026-06', { token });
    expect(res.status).toBe(200);
    const report = (await res.json()) as UsageReport;
    expect(report).toMatchObject({ period: '2026-06', status: 'open', limit: 1_000_000 });
    expect(report.totals).toMatchObject({ requests: 4, errors: 1, inputTokens: 20, outputTokens: 36 });
    const cost =
      estimateCostUsd('local', { requests: 3, computeMs: 0 }) +
      estimateCostUsd('cloudflare', { requests: 1, computeMs: 0 });
    expect(report.totals.costUsd).toBeCloseTo(cost, 8);
    expect(report.byRuntime.map((r) => [r.runtime, r.requests])).toEqual([
      ['cloudflare', 1],
      ['local', 3],
    ]);
    expect(report.byAgent.map((a) => [a.name, a.runtime, a.requests])).toEqual([
      ['chat', 'local', 3],
      ['search', 'cloudflare', 1],
    ]);
    expect(report.byEndUser).toEqual([
      { endUser: 'alice@customer', requests: 2, errors: 1, inputTokens: 10, outputTokens: 18 },
      { endUser: 'bob@customer', requests: 1, errors: 0, inputTokens: 5, outputTokens: 9 },
    ]);

    // another user sees none of it
    const other = await api.token('usage-other');
    const theirs = (await (await api.call('GET', '/v1/usage?period=2026-06', { token: other })).json()) as UsageReport;
    expect(theirs.totals.requests).toBe(0);
    expect(theirs.byAgent).toEqual([]);

    await expectError(await api.call('GET', '/v1/usage?period=2026-13', { token }), 400, 'validation_failed');
    await expectError(await api.call('GET', '/v1/usage', {}), 401, 'unauthorized');
  });

  it('answers a closed period with its frozen totals', async () => {
    const token = await api.token('closed-user');
    await api.call('GET', '/v1/account', { token });
    const a = await agentWithDeployment(store, 'closed-user', { name: 'a' });
    await store.recordRequests([request(a, '2026-05-10T00:00:00.000Z')]);
    await store.closeBillingPeriod({ ownerId: 'closed-user', period: '2026-05', now: new Date() });
    const report = (await (await api.call('GET', '/v1/usage?period=2026-05', { token })).json()) as UsageReport;
    expect(report.status).toBe('closed');
    expect(report.totals).toMatchObject({
      requests: 1,
      costUsd: estimateCostUsd('local', { requests: 1, computeMs: 0 }),
    });
  });

  it('gives an agent’s hourly points for charts, owner-scoped, within a bounded range', async () => {
    const token = await api.token('metrics-user');
    await api.call('GET', '/v1/account', { token });
    const a = await agentWithDeployment(store, 'metrics-user', { name: 'm' });
    await store.recordRequests([
      request(a, '2026-06-02T10:00:00.000Z', { durationMs: 10 }),
      request(a, '2026-06-02T10:59:00.000Z', { durationMs: 30, status: 500 }),
      request(a, '2026-06-02T12:00:00.000Z', { durationMs: 5 }),
    ]);
    const res = await api.call(
      'GET',
      `/v1/agents/${a.agentId}/metrics?from=2026-06-02T00:00:00.000Z&to=2026-06-03T00:00:00.000Z`,
      { token },
    );
    const { items } = (await res.json()) as { items: MetricPoint[] };
    expect(items.map((p) => [p.hour, p.requests, p.errors, p.avgLatencyMs])).toEqual([
      ['2026-06-02T10:00:00.000Z', 2, 1, 20],
      ['2026-06-02T12:00:00.000Z', 1, 0, 5],
    ]);
    const other = await api.token('metrics-other');
    await expectError(await api.call('GET', `/v1/agents/${a.agentId}/metrics`, { token: other }), 404, 'not_found');
    await expectError(
      await api.call(
        'GET',
        `/v1/agents/${a.agentId}/metrics?from=2026-01-01T00:00:00.000Z&to=2026-06-01T00:00:00.000Z`,
        { token },
      ),
      400,
      'validation_failed',
    );
  });
});
