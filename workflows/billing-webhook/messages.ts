import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { AddOn, LemonSqueezyEventName, PaidTier, Tier } from '../../lib/contracts/index.js';

/** What one verified Lemon Squeezy delivery says (lib/billing/webhook.ts reads it); never the secret or the raw body. */
export interface BillingWebhookInput {
  /** sha256 hex of the raw body. */
  eventKey: string;
  eventName: LemonSqueezyEventName;
  /** From `meta.custom_data.user_id`, put there by our checkout. */
  userId: string;
  subscriptionId: string | null;
  customerId: string | null;
  subscriptionItemId: string | null;
  status: string | null;
  /** The tier the subscription's variant buys (LEMONSQUEEZY_VARIANTS); null when not a tier's variant. */
  tier: PaidTier | null;
  /** The add-on the variant buys (LEMONSQUEEZY_AGENTCORE_VARIANT). */
  addOn: AddOn | null;
  /** How long a failed payment keeps the paid tier (WEBHOST_BILLING_GRACE_DAYS; tests shorten it). */
  graceMs: number;
}

export interface BillingWebhookResult {
  eventName: LemonSqueezyEventName;
  userId: string;
  /** What the event did. */
  outcome: 'plan_changed' | 'unchanged' | 'grace_opened' | 'payment_recovered' | 'ignored';
  tier: Tier | null;
  paused: string[];
  resumed: string[];
  /** For a failed payment: the grace period's workflow and end (ISO). */
  grace: { workflowId: string; endsAt: string } | null;
}

export type BillingWebhookProgress = { state: 'applying' } | { state: 'done'; result: BillingWebhookResult };

export const billingWebhookProgressQuery = defineQuery<BillingWebhookProgress>('progress');

export interface BillingGraceInput {
  userId: string;
  /** When the grace period ends (ISO), as recorded on the user. */
  endsAt: string;
}

export type BillingGraceState =
  | { state: 'waiting'; endsAt: string }
  | { state: 'recovered'; endsAt: string }
  /** It ran out: the user dropped to free, these agents paused. */
  | { state: 'downgraded'; endsAt: string; paused: string[] }
  /** It ran out, but the user's grace period was no longer this one (a recovery came first). */
  | { state: 'superseded'; endsAt: string };

export const billingGraceQuery = defineQuery<BillingGraceState>('progress');

/** A payment succeeded (recovered, or a later one went through): the grace period ends without a downgrade. */
export const paymentRecoveredSignal = defineSignal('paymentRecovered');
