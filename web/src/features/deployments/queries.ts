import { convexQuery } from '@convex-dev/react-query';
import { skipToken, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useClients } from '../../app/api.js';
import { convexApi, convexOnly, FIRST_PAGE, fromConvexPage, useMode } from '../../app/backend.js';
import { unwrap } from '../../app/errors.js';
import { qk } from '../../app/query-keys.js';
import type { DeploymentSource } from '../../../../lib/contracts/deployments.js';

export function useDeployments(agentId: string, limit = 50) {
  const { api } = useClients();
  const convex = useMode() === 'convex';
  const rest = useQuery({
    queryKey: [...qk.deployments(agentId), limit],
    queryFn: convex
      ? skipToken
      : () =>
          unwrap(api.v1.agents[':agentId'].deployments.$get({ param: { agentId }, query: { limit: String(limit) } })),
  });
  const live = useQuery({
    ...convexQuery(convexApi.dashboard.deployments, {
      agentId,
      paginationOpts: { ...FIRST_PAGE, numItems: limit },
    }),
    ...convexOnly(convex),
    select: fromConvexPage,
  });
  return convex ? live : rest;
}

/** One deployment with its step log and, while it runs, the workflow's current step. */
export function useDeployment(deploymentId: string) {
  const { api } = useClients();
  const convex = useMode() === 'convex';
  const rest = useQuery({
    queryKey: qk.deployment(deploymentId),
    queryFn: convex ? skipToken : () => unwrap(api.v1.deployments[':deploymentId'].$get({ param: { deploymentId } })),
  });
  const live = useQuery({
    ...convexQuery(convexApi.dashboard.deployment, { deploymentId }),
    ...convexOnly(convex),
    select: (d) => ({ ...d, currentStep: null }),
  });
  return convex ? live : rest;
}

export function useDeploy(agentId: string) {
  const { api } = useClients();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (source: DeploymentSource) =>
      unwrap(
        api.v1.agents[':agentId'].deployments.$post(
          { param: { agentId }, json: { source } },
          { headers: { 'Idempotency-Key': crypto.randomUUID() } },
        ),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: qk.deployments(agentId) }),
  });
}

export function useRollback(agentId: string) {
  const { api } = useClients();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (deploymentId: string) =>
      unwrap(api.v1.agents[':agentId'].rollback.$post({ param: { agentId }, json: { deploymentId } })),
    onSuccess: () =>
      Promise.all([
        queryClient.invalidateQueries({ queryKey: qk.agent(agentId) }),
        queryClient.invalidateQueries({ queryKey: qk.deployments(agentId) }),
      ]),
  });
}
