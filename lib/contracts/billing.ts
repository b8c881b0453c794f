import { z } from 'zod';
import { AddOn, Tier } from './tiers.js';

/** The tiers a checkout can buy. */
export const PaidTier = Tier.exclude(['free']);
export type PaidTier = z.infer<typeof PaidTier>;

/** `POST /v1/billing/checkout`. */
export const CheckoutBody = z.strictObject(
  { tier: PaidTier },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? 'only "tier" is accepted' : undefined) },
);
export type CheckoutBody = z.infer<typeof CheckoutBody>;

/** The answer to `POST /v1/billing/checkout`: where to send the user to pay. */
export const CheckoutView = z.object({ url: z.string() });
export type CheckoutView = z.infer<typeof CheckoutView>;

/** `GET /v1/billing`: the tier, add-ons, the subscription as Lemon Squeezy last said, and a running grace period. */
export const BillingView = z.object({
  tier: Tier,
  addOns: z.array(AddOn),
  subscription: z
    .object({ id: z.string(), status: z.string().nullable(), customerId: z.string().nullable() })
    .nullable(),
  /** Set while a failed payment's grace period runs: when the account drops to free unless paid (ISO). */
  gracePeriodEndsAt: z.string().nullable(),
  /** Whether `POST /v1/billing/checkout` can open a checkout on this platform. */
  checkoutAvailable: z.boolean(),
});
export type BillingView = z.infer<typeof BillingView>;

/** The Lemon Squeezy webhook events the platform acts on (FACTS.md); others are recorded and acknowledged. */
export const LemonSqueezyEventName = z.enum([
  'subscription_created',
  'subscription_updated',
  'subscription_cancelled',
  'subscription_expired',
  'subscription_resumed',
  'subscription_payment_success',
  'subscription_payment_failed',
  'subscription_payment_recovered',
]);
export type LemonSqueezyEventName = z.infer<typeof LemonSqueezyEventName>;

const LsId = z.union([z.string(), z.number()]).transform(String);

/**
 * A webhook delivery's body, as far as the platform reads it: `meta.event_name`, the user id a
 * checkout put in `meta.custom_data`, and the object's id and attributes (a subscription, or a
 * subscription invoice for the payment events). Everything else passes through unread.
 */
export const LemonSqueezyWebhook = z.object({
  meta: z.object({
    event_name: z.string().min(1).max(128),
    custom_data: z
      .object({ user_id: z.string().min(1).max(128).optional() })
      .passthrough()
      .nullish(),
  }),
  data: z.object({
    type: z.string(),
    id: LsId,
    attributes: z
      .object({
        status: z.string().max(64).nullish(),
        customer_id: LsId.nullish(),
        variant_id: LsId.nullish(),
        subscription_id: LsId.nullish(),
        first_subscription_item: z.object({ id: LsId }).passthrough().nullish(),
      })
      .passthrough(),
  }),
});
export type LemonSqueezyWebhook = z.infer<typeof LemonSqueezyWebhook>;
