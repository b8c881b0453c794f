/**
 * Query keys, one factory per resource: live updates (`/v1/events` or Convex) and mutations
 * invalidate by these prefixes, and components never poll on their own.
 */
export const qk = {
  account: () => ['account'] as const,
  agents: () => ['agents'] as const,
  agent: (agentId: string) => ['agents', agentId] as const,
  deployments: (agentId: string) => ['deployments', 'of', agentId] as const,
  deployment: (deploymentId: string) => ['deployments', deploymentId] as const,
  secrets: (agentId: string) => ['secrets', agentId] as const,
  apiKeys: () => ['api-keys'] as const,
  metrics: (agentId: string, from: string) => ['metrics', agentId, from] as const,
  usage: (period: string) => ['usage', period] as const,
  billing: () => ['billing'] as const,
  audit: () => ['audit'] as const,
};

/** What a change from `/v1/events` makes stale: its own resource and every list or total that shows it. */
export function keysOfChange(change: { kind: 'agent' | 'deployment'; id: string }): readonly (readonly string[])[] {
  const shown = [qk.agents(), qk.audit(), qk.account(), ['usage']] as const;
  return change.kind === 'agent'
    ? [...shown, qk.secrets(change.id), ['deployments', 'of', change.id]]
    : [...shown, qk.deployment(change.id), ['deployments', 'of']];
}
