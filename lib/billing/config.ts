import { Tier } from '../contracts/index.js';

/**
 * Lemon Squeezy settings (DESIGN.md §2), from the environment only:
 * - `LEMONSQUEEZY_WEBHOOK_SECRET` opens `POST /webhooks/lemonsqueezy` (with or without an API key);
 * - `LEMONSQUEEZY_API_KEY` + `LEMONSQUEEZY_STORE_ID` open checkouts and usage reports;
 * - `LEMONSQUEEZY_VARIANTS=starter:<id>,pro:<id>,enterprise:<id>` maps the store's variants to tiers;
 * - `LEMONSQUEEZY_AGENTCORE_VARIANT` is the AgentCore add-on's variant;
 * - `WEBHOST_BILLING_GRACE_DAYS` (default 7) is how long a failed payment keeps the paid tier.
 * Without any of them billing is off and tiers are set by `npm run admin -- set-tier`.
 */
export interface BillingConfig {
  webhookSecret: string | undefined;
  /** Set when checkouts and usage reports can be made. */
  api: { apiKey: string; storeId: string } | undefined;
  /** Variant id → tier. */
  variants: ReadonlyMap<string, Tier>;
  /** Tier → variant id (for checkouts). */
  variantOfTier: Partial<Record<Tier, string>>;
  agentCoreVariant: string | undefined;
  graceMs: number;
}

const DAY_MS = 86_400_000;

export function billingConfigFromEnv(env: NodeJS.ProcessEnv = process.env): BillingConfig {
  const variants = new Map<string, Tier>();
  const variantOfTier: Partial<Record<Tier, string>> = {};
  for (const entry of (env.LEMONSQUEEZY_VARIANTS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [tier, id, ...rest] = entry.split(':');
    const parsed = Tier.safeParse(tier);
    if (!parsed.success || !id || rest.length > 0 || !/^\d+$/.test(id) || parsed.data === 'free')
      throw new Error(
        `LEMONSQUEEZY_VARIANTS: "${entry}" is not <tier>:<variant id> with a paid tier (starter, pro, enterprise)`,
      );
    if (variants.has(id)) throw new Error(`LEMONSQUEEZY_VARIANTS: variant ${id} is named twice`);
    variants.set(id, parsed.data);
    variantOfTier[parsed.data] = id;
  }
  const agentCoreVariant = env.LEMONSQUEEZY_AGENTCORE_VARIANT || undefined;
  if (agentCoreVariant !== undefined && !/^\d+$/.test(agentCoreVariant))
    throw new Error(`LEMONSQUEEZY_AGENTCORE_VARIANT must be a variant id (digits), not "${agentCoreVariant}"`);
  const graceDays = env.WEBHOST_BILLING_GRACE_DAYS ? Number(env.WEBHOST_BILLING_GRACE_DAYS) : 7;
  if (!Number.isFinite(graceDays) || graceDays <= 0)
    throw new Error(`WEBHOST_BILLING_GRACE_DAYS must be a positive number, not "${env.WEBHOST_BILLING_GRACE_DAYS}"`);
  const apiKey = env.LEMONSQUEEZY_API_KEY || undefined;
  const storeId = env.LEMONSQUEEZY_STORE_ID || undefined;
  if ((apiKey === undefined) !== (storeId === undefined))
    throw new Error('LEMONSQUEEZY_API_KEY and LEMONSQUEEZY_STORE_ID are set together, or neither');
  return {
    webhookSecret: env.LEMONSQUEEZY_WEBHOOK_SECRET || undefined,
    api: apiKey && storeId ? { apiKey, storeId } : undefined,
    variants,
    variantOfTier,
    agentCoreVariant,
    graceMs: graceDays * DAY_MS,
  };
}
