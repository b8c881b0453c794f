import { convexQuery } from '@convex-dev/react-query';
import { skipToken, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useClients } from '../../app/api.js';
import { convexApi, convexOnly, FIRST_PAGE, fromConvexPage, useMode } from '../../app/backend.js';
import { unwrap } from '../../app/errors.js';
import { qk } from '../../app/query-keys.js';

export function useAgents() {
  const { api } = useClients();
  const convex = useMode() === 'convex';
  const rest = useQuery({
    queryKey: qk.agents(),
    queryFn: convex ? skipToken : () => unwrap(api.v1.agents.$get({ query: { limit: '100' } })),
  });
  const live = useQuery({
    ...convexQuery(convexApi.dashboard.agents, { paginationOpts: FIRST_PAGE }),
    ...convexOnly(convex),
    select: fromConvexPage,
  });
  return convex ? live : rest;
}

/**
 * One agent. In Convex mode it is read from the live agents query (Convex has no single-agent
 * dashboard query), so a rollback's pointer switch shows without any event; an agent that is not
 * among them (another owner's, or deleted) is the api's answer, `not_found` with its request id.
 */
export function useAgent(agentId: string) {
  const { api } = useClients();
  const convex = useMode() === 'convex';
  const live = useQuery({
    ...convexQuery(convexApi.dashboard.agents, { paginationOpts: FIRST_PAGE }),
    ...convexOnly(convex),
    select: (p) => p.page.find((a) => a.id === agentId) ?? null,
  });
  const known = convex && live.data != null;
  const rest = useQuery({
    queryKey: qk.agent(agentId),
    queryFn: known ? skipToken : () => unwrap(api.v1.agents[':agentId'].$get({ param: { agentId } })),
  });
  return known ? live : rest;
}

export function useAccount() {
  const { api } = useClients();
  return useQuery({ queryKey: qk.account(), queryFn: () => unwrap(api.v1.account.$get()) });
}

/** This period's usage, for the agents list's "requests this period" and the usage page. */
export function useUsage(period?: string) {
  const { api } = useClients();
  return useQuery({
    queryKey: qk.usage(period ?? 'current'),
    // usage is metered off the hot path, not announced: read it afresh on each visit
    staleTime: 0,
    queryFn: () => unwrap(api.v1.usage.$get({ query: period ? { period } : {} })),
  });
}

export function useCreateAgent() {
  const { api } = useClients();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: { name: string; runtime: 'local' | 'cloudflare' | 'agentcore' }) =>
      unwrap(api.v1.agents.$post({ json: body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: qk.agents() }),
  });
}

export function useDeleteAgent() {
  const { api } = useClients();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (agentId: string) => unwrap(api.v1.agents[':agentId'].$delete({ param: { agentId } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: qk.agents() }),
  });
}
