import { z } from 'zod';
import type { Runtime } from './common.js';

export const Tier = z.enum(['free', 'starter', 'pro', 'enterprise']);
export type Tier = z.infer<typeof Tier>;

export interface TierLimits {
  /** Agents an owner may have at once; null means unlimited. */
  agents: number | null;
  /** Runtimes open to the tier (local is open to all). */
  runtimes: readonly Runtime[];
  /** Invocations per billing period; null means by contract. */
  requestsPerPeriod: number | null;
  /** How long raw telemetry events are kept. */
  telemetryRetentionDays: number;
}

/** Tiers v1. AgentCore on pro is an add-on, not part of the tier. */
export const TIER_LIMITS: Record<Tier, TierLimits> = {
  free: { agents: 1, runtimes: ['local', 'cloudflare'], requestsPerPeriod: 10_000, telemetryRetentionDays: 7 },
  starter: { agents: 5, runtimes: ['local', 'cloudflare'], requestsPerPeriod: 100_000, telemetryRetentionDays: 30 },
  pro: { agents: null, runtimes: ['local', 'cloudflare'], requestsPerPeriod: 1_000_000, telemetryRetentionDays: 90 },
  enterprise: {
    agents: null,
    runtimes: ['local', 'cloudflare', 'agentcore'],
    requestsPerPeriod: null,
    telemetryRetentionDays: 365,
  },
};

/** Paid extras on top of a tier: AgentCore on pro. */
export const AddOn = z.enum(['agentcore']);
export type AddOn = z.infer<typeof AddOn>;

/** What a tier (with its add-ons) lets an owner do: the api refuses the rest with `entitlement_required`. */
export interface Entitlement {
  tier: Tier;
  addOns: readonly AddOn[];
}

const TIER_ORDER: Tier[] = ['free', 'starter', 'pro', 'enterprise'];

/** Whether the runtime is open to this tier and add-ons (AgentCore: enterprise, or pro with the add-on). */
export function runtimeAllowed(e: Entitlement, runtime: Runtime): boolean {
  if (TIER_LIMITS[e.tier].runtimes.includes(runtime)) return true;
  return runtime === 'agentcore' && e.tier === 'pro' && e.addOns.includes('agentcore');
}

/** Why the runtime is not open to this owner, naming what would open it; null when it is open. */
export function runtimeRefusal(e: Entitlement, runtime: Runtime): string | null {
  if (runtimeAllowed(e, runtime)) return null;
  const opens = runtime === 'agentcore' ? 'the enterprise tier, or pro with the AgentCore add-on' : 'another tier';
  return `the ${runtime} runtime needs ${opens}; this account is on ${e.tier}`;
}

/** Why one more agent is refused on this tier (it has `active` already), naming the tiers that allow it; null when allowed. */
export function agentCountRefusal(tier: Tier, active: number): string | null {
  const max = TIER_LIMITS[tier].agents;
  if (max === null || active < max) return null;
  const higher = TIER_ORDER.slice(TIER_ORDER.indexOf(tier) + 1).map((t) => {
    const n = TIER_LIMITS[t].agents;
    return `${t} (${n === null ? 'unlimited' : n})`;
  });
  return `the ${tier} tier allows ${max} agent${max === 1 ? '' : 's'}; delete one, or move to ${higher.join(' or ')}`;
}

/** An owner's active agent, as `agentsToRebalance` weighs it. */
export interface AgentStanding {
  id: string;
  runtime: Runtime;
  paused: boolean;
  /** Epoch ms. */
  createdAt: number;
}

/**
 * Which of an owner's active agents a tier (with its add-ons) lets serve, and so which to pause
 * and which to resume (DESIGN.md §8: downgrades pause agents over the limit, nothing is deleted).
 * An agent on a runtime the tier does not open is paused; of the rest, agents serving now keep
 * serving before paused ones, then the oldest first, up to the tier's count.
 */
export function agentsToRebalance(
  e: Entitlement,
  agents: readonly AgentStanding[],
): { pause: string[]; resume: string[] } {
  const max = TIER_LIMITS[e.tier].agents ?? Number.POSITIVE_INFINITY;
  const order = [...agents].sort(
    (a, b) => Number(a.paused) - Number(b.paused) || a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1),
  );
  const pause: string[] = [];
  const resume: string[] = [];
  let serving = 0;
  for (const a of order) {
    const allowed = runtimeAllowed(e, a.runtime) && serving < max;
    if (allowed) serving++;
    if (allowed && a.paused) resume.push(a.id);
    if (!allowed && !a.paused) pause.push(a.id);
  }
  return { pause, resume };
}
