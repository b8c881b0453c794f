import type { Runtime, Tier } from '../../../../lib/contracts/index.js';

export const RUNTIMES: readonly { id: Runtime; label: string }[] = [
  { id: 'local', label: 'Local (workerd)' },
  { id: 'cloudflare', label: 'Cloudflare Workers' },
  { id: 'agentcore', label: 'AWS Bedrock AgentCore' },
];

/** Each runtime for the create form: allowed by the tier, or disabled with the reason. */
export function runtimeChoices(tier: Tier, allowed: readonly Runtime[]) {
  return RUNTIMES.map((r) => {
    if (allowed.includes(r.id)) return { ...r, disabled: false, reason: null };
    const reason =
      r.id === 'agentcore' && tier === 'pro'
        ? 'needs the AgentCore add-on on the pro tier'
        : r.id === 'agentcore'
          ? `not on the ${tier} tier (pro with the add-on, or enterprise)`
          : `not on the ${tier} tier`;
    return { ...r, disabled: true, reason };
  });
}

/** The usage report's requests per agent (an agent may have used several runtimes). */
export function requestsByAgent(byAgent: readonly { agentId: string; requests: number }[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const a of byAgent) m.set(a.agentId, (m.get(a.agentId) ?? 0) + a.requests);
  return m;
}
