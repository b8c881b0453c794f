import { createHmac } from 'node:crypto';
import { billingConfigFromEnv, type BillingConfig } from '../../lib/billing/config.js';

/** The webhook secret and variants every billing test uses. */
export const LS_SECRET = 'whsec-test-signing-secret';
export const LS_VARIANTS = { starter: '111', pro: '222', enterprise: '333', agentcore: '444' } as const;

/** Billing settings as the environment gives them; `apiKey` adds checkouts. */
export function testBillingConfig(opts: { apiKey?: boolean; graceDays?: number } = {}): BillingConfig {
  return billingConfigFromEnv({
    LEMONSQUEEZY_WEBHOOK_SECRET: LS_SECRET,
    LEMONSQUEEZY_VARIANTS: `starter:${LS_VARIANTS.starter},pro:${LS_VARIANTS.pro},enterprise:${LS_VARIANTS.enterprise}`,
    LEMONSQUEEZY_AGENTCORE_VARIANT: LS_VARIANTS.agentcore,
    ...(opts.apiKey ? { LEMONSQUEEZY_API_KEY: 'ls-test-api-key', LEMONSQUEEZY_STORE_ID: '42' } : {}),
    ...(opts.graceDays ? { WEBHOST_BILLING_GRACE_DAYS: String(opts.graceDays) } : {}),
  });
}

let serial = 0;

/**
 * A webhook body as Lemon Squeezy sends it (FACTS.md): a subscription, or for the payment events a
 * subscription invoice; `user_id` in custom data as our checkout put it. Each body is unique
 * (a delivery id of our own in custom data), as two real events are.
 */
export function lsEvent(
  eventName: string,
  userId: string | null,
  opts: { status?: string; variant?: string; subscriptionId?: number } = {},
): string {
  const subscriptionId = opts.subscriptionId ?? 9001;
  const invoice = eventName.startsWith('subscription_payment_');
  return JSON.stringify({
    meta: {
      event_name: eventName,
      test_mode: true,
      custom_data: userId === null ? null : { user_id: userId, n: ++serial },
    },
    data: invoice
      ? {
          type: 'subscription-invoices',
          id: String(7000 + serial),
          attributes: {
            store_id: 42,
            subscription_id: subscriptionId,
            customer_id: 555,
            status: opts.status ?? (eventName.endsWith('failed') ? 'pending' : 'paid'),
            billing_reason: 'renewal',
          },
        }
      : {
          type: 'subscriptions',
          id: String(subscriptionId),
          attributes: {
            store_id: 42,
            customer_id: 555,
            variant_id: Number(opts.variant ?? LS_VARIANTS.pro),
            status: opts.status ?? 'active',
            first_subscription_item: { id: 8001, subscription_id: subscriptionId, price_id: 1 },
          },
        },
  });
}

/** `X-Signature`: hex HMAC-SHA256 of the raw body. */
export const lsSign = (body: string, secret = LS_SECRET) => createHmac('sha256', secret).update(body).digest('hex');
