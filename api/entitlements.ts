import {
  AppError,
  agentCountRefusal,
  runtimeRefusal,
  TIER_LIMITS,
  type Runtime,
  type Tier,
  type User,
} from '../lib/contracts/index.js';
import type { Store } from '../lib/store/index.js';

// Tier entitlements (architecture.md, Tiers): enforced where they bite, before anything is
// recorded. The agent count is checked again by the store in the same transaction as the
// insert, so two creates at once cannot both take the last place.

/** The runtime is open to the owner's tier and add-ons, or `403 entitlement_required` saying what opens it. */
export async function requireRuntimeEntitlement(store: Store, ownerId: string, runtime: Runtime): Promise<User> {
  const user = await store.getUser(ownerId);
  const refusal = runtimeRefusal(user, runtime);
  if (refusal) throw new AppError('entitlement_required', refusal);
  return user;
}

/** The most agents the tier allows (undefined: unlimited), for the store's check. */
export const maxAgentsOf = (tier: Tier): number | undefined => TIER_LIMITS[tier].agents ?? undefined;

/** The store's refusal of one agent too many, told the way the owner can act on. */
export function agentLimitError(tier: Tier, err: unknown): unknown {
  if (!(err instanceof AppError && err.code === 'entitlement_required')) return err;
  const max = maxAgentsOf(tier) ?? 0;
  return new AppError('entitlement_required', agentCountRefusal(tier, max) ?? err.message);
}

/** `WEBHOST_DEFAULT_TIER`: the tier new users start on while billing is off (default pro). */
export function defaultTierFromEnv(env: NodeJS.ProcessEnv = process.env): Tier {
  const tier = env.WEBHOST_DEFAULT_TIER || 'pro';
  if (!(tier in TIER_LIMITS)) {
    throw new Error(`WEBHOST_DEFAULT_TIER must be one of ${Object.keys(TIER_LIMITS).join(', ')}, not "${tier}"`);
  }
  return tier as Tier;
}
