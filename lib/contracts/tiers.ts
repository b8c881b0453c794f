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
