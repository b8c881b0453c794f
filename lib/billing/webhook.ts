import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { LemonSqueezyEventName, LemonSqueezyWebhook, type AddOn, type PaidTier } from '../contracts/index.js';
import type { BillingConfig } from './config.js';

// Lemon Squeezy webhooks (FACTS.md): `X-Signature` is the hex HMAC-SHA256 of the raw body with
// the signing secret; deliveries carry no id and are retried, so a delivery is keyed by the
// sha256 of its raw body.

/** Whether `signature` is the hex HMAC-SHA256 of `rawBody` under `secret`, compared in constant time. */
export function verifyWebhookSignature(rawBody: Uint8Array, signature: string | undefined, secret: string): boolean {
  if (!signature || !/^[0-9a-f]+$/i.test(signature)) return false;
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  const given = Buffer.from(signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The delivery's key: the sha256 hex of its raw body (the workflow id is `ls-<key>`). */
export const webhookEventKey = (rawBody: Uint8Array) => createHash('sha256').update(rawBody).digest('hex');

/** What a subscription event says, in the platform's terms. */
export interface SubscriptionFacts {
  /** Lemon Squeezy's subscription id (for invoices, the subscription they bill). */
  subscriptionId: string | null;
  customerId: string | null;
  subscriptionItemId: string | null;
  /** The subscription's (or invoice's) status as Lemon Squeezy says it. */
  status: string | null;
  /** The tier the subscription's variant buys; null when the variant is the add-on, unknown, or not given. */
  tier: PaidTier | null;
  /** The add-on the variant buys, if it is the add-on's variant. */
  addOn: AddOn | null;
}

export type ParsedWebhook =
  | { kind: 'event'; eventName: LemonSqueezyEventName; userId: string; facts: SubscriptionFacts }
  /** Verified, but nothing the platform acts on (another event, or no user id in custom data). */
  | { kind: 'ignored'; eventName: string; reason: string }
  | { kind: 'malformed'; reason: string };

/** Reads a verified delivery's body. */
export function parseWebhook(
  rawBody: Uint8Array,
  config: Pick<BillingConfig, 'variants' | 'agentCoreVariant'>,
): ParsedWebhook {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(rawBody));
  } catch {
    return { kind: 'malformed', reason: 'the body is not JSON' };
  }
  const parsed = LemonSqueezyWebhook.safeParse(json);
  if (!parsed.success) return { kind: 'malformed', reason: 'the body is not a Lemon Squeezy webhook' };
  const { meta, data } = parsed.data;
  const name = LemonSqueezyEventName.safeParse(meta.event_name);
  if (!name.success)
    return { kind: 'ignored', eventName: meta.event_name, reason: 'not an event the platform acts on' };
  const userId = meta.custom_data?.user_id;
  if (!userId) return { kind: 'ignored', eventName: meta.event_name, reason: 'no user_id in custom data' };
  const a = data.attributes;
  const isInvoice = data.type === 'subscription-invoices';
  const variant = a.variant_id ?? null;
  return {
    kind: 'event',
    eventName: name.data,
    userId,
    facts: {
      subscriptionId: isInvoice ? (a.subscription_id ?? null) : data.id,
      customerId: a.customer_id ?? null,
      subscriptionItemId: isInvoice ? null : (a.first_subscription_item?.id ?? null),
      status: a.status ?? null,
      tier: variant === null ? null : ((config.variants.get(variant) as PaidTier | undefined) ?? null),
      addOn: variant !== null && variant === config.agentCoreVariant ? 'agentcore' : null,
    },
  };
}
