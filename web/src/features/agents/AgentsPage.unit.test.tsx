// @vitest-environment happy-dom
import { convexQuery } from '@convex-dev/react-query';
import { QueryClientProvider } from '@tanstack/react-query';
import { cleanup, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientsContext, createClients } from '../../app/api.js';
import { convexApi, FIRST_PAGE, ModeContext, type Mode } from '../../app/backend.js';
import { createQueryClient } from '../../app/query-client.js';
import AgentsPage from './AgentsPage.js';

// The agents view in both modes: one component tree, the mode picks where its live state comes
// from. Embedded reads the REST api through hc (here over a fetch stub); Convex mode reads the
// Convex dashboard queries (seeded into the cache the ConvexQueryClient would fill: no Convex
// backend runs here) and never asks the api for the list.

afterEach(cleanup);
const ORIGIN = 'http://dash.test';
const now = new Date().toISOString();
const agent = (id: string, name: string, active: string | null) => ({
  id,
  ownerId: 'alice',
  name,
  runtime: 'local' as const,
  status: 'active' as const,
  activeDeploymentId: active,
  rollbackWorkflowId: null,
  pausedAt: null,
  createdAt: now,
  updatedAt: now,
});
const deployment = (id: string, agentId: string, version: number) => ({
  id,
  agentId,
  ownerId: 'alice',
  version,
  runtime: 'local' as const,
  status: 'live' as const,
  sourceType: 'files' as const,
  framework: 'plain' as const,
  commitSha: null,
  artifactDigest: null,
  providerRef: 'v',
  workflowId: `deploy-${id}`,
  steps: [],
  error: null,
  createdAt: now,
  updatedAt: now,
  finishedAt: now,
});
const usage = {
  period: now.slice(0, 7),
  status: 'open',
  limit: 1_000_000,
  totals: {},
  byRuntime: [],
  byAgent: [{ agentId: 'agt_1', name: 'alpha', runtime: 'local', requests: 42 }],
  byEndUser: [],
};

/** A fetch that answers the api's routes from fixtures, recording what was asked. */
function fakeApi(routes: Record<string, unknown>) {
  const asked: string[] = [];
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    asked.push(`${init?.method ?? 'GET'} ${url.pathname}`);
    const body = routes[url.pathname];
    if (body === undefined)
      return Response.json(
        { error: { code: 'not_found', message: `no route ${url.pathname}`, requestId: 'req_test' } },
        { status: 404, headers: { 'x-request-id': 'req_test' } },
      );
    return Response.json(body);
  }) as typeof fetch;
  return { asked, fetchImpl };
}

function renderIn(
  mode: Mode,
  routes: Record<string, unknown>,
  seed?: (q: ReturnType<typeof createQueryClient>) => void,
) {
  // In Convex mode the ConvexQueryClient's queryFn is the default; here there is no backend behind it.
  const noConvex = () => Promise.reject(new Error('no Convex backend in this test'));
  const queryClient = createQueryClient({
    defaultOptions: { queries: { retry: false, ...(mode === 'convex' ? { queryFn: noConvex } : {}) } },
  });
  seed?.(queryClient);
  const api = fakeApi(routes);
  const clients = createClients(() => Promise.resolve('token'), ORIGIN, api.fetchImpl);
  render(
    <QueryClientProvider client={queryClient}>
      <ModeContext.Provider value={mode}>
        <ClientsContext.Provider value={clients}>
          <AgentsPage />
        </ClientsContext.Provider>
      </ModeContext.Provider>
    </QueryClientProvider>,
  );
  return api;
}

describe('agents view', () => {
  it('embedded: lists agents from the api with active deployment, last deploy and requests this period', async () => {
    const api = renderIn('embedded', {
      '/v1/agents': { items: [agent('agt_1', 'alpha', 'dep_2')], nextCursor: null },
      '/v1/agents/agt_1/deployments': {
        items: [deployment('dep_3', 'agt_1', 3), deployment('dep_2', 'agt_1', 2)],
        nextCursor: null,
      },
      '/v1/usage': usage,
    });
    expect(screen.getByRole('status').textContent).toContain('Loading agents');
    const row = await screen.findByRole('row', { name: /alpha/ });
    await waitFor(() => expect(row.textContent).toContain('v2'));
    await waitFor(() => expect(row.textContent).toContain('42'));
    expect(api.asked).toContain('GET /v1/agents');
  });

  it('embedded: an error shows its message and request id, and an empty list says so', async () => {
    renderIn('embedded', { '/v1/usage': usage });
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('no route /v1/agents');
    expect(alert.textContent).toContain('req_test');
    cleanup();
    renderIn('embedded', { '/v1/agents': { items: [], nextCursor: null }, '/v1/usage': usage });
    expect(await screen.findByText('No agents yet')).toBeTruthy();
  });

  it('convex: the same view reads the Convex dashboard queries, not the api', async () => {
    const api = renderIn('convex', { '/v1/usage': usage }, (q) => {
      q.setQueryData(convexQuery(convexApi.dashboard.agents, { paginationOpts: FIRST_PAGE }).queryKey, {
        page: [agent('agt_1', 'alpha', 'dep_7')],
        isDone: true,
        continueCursor: '',
      });
      q.setQueryData(
        convexQuery(convexApi.dashboard.deployments, {
          agentId: 'agt_1',
          paginationOpts: { ...FIRST_PAGE, numItems: 5 },
        }).queryKey,
        { page: [deployment('dep_7', 'agt_1', 7)], isDone: true, continueCursor: '' },
      );
    });
    const row = await screen.findByRole('row', { name: /alpha/ });
    await waitFor(() => expect(row.textContent).toContain('v7'));
    expect(api.asked.filter((a) => a.includes('/v1/agents'))).toEqual([]);
  });
});
