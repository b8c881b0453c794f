import { Hono } from 'hono';
import { LemonSqueezyError } from '../../lib/billing/lemonsqueezy.js';
import { AppError, CheckoutBody, type BillingView, type CheckoutView } from '../../lib/contracts/index.js';
import type { AuthedEnv } from '../../lib/http/middleware.js';
import { validate } from '../../lib/http/validate.js';
import type { ApiDeps } from '../deps.js';
import { receiveLemonSqueezyWebhook } from '../orchestrate.js';

/**
 * `GET /v1/billing` → the caller's tier, add-ons, subscription and grace period end;
 * `POST /v1/billing/checkout { tier }` → `{ url }`: a Lemon Squeezy checkout for the tier's
 * variant carrying the caller's user id (`checkout_data.custom.user_id`), which comes back in
 * every webhook of the subscription it starts.
 */
export function billingRoutes(deps: ApiDeps) {
  const { store } = deps;
  return new Hono<AuthedEnv>()
    .get('/', async (c) => {
      const user = await store.getUser(c.get('userId'));
      const { billing } = user;
      const view: BillingView = {
        tier: user.tier,
        addOns: user.addOns,
        subscription:
          billing.subscriptionId === null
            ? null
            : { id: billing.subscriptionId, status: billing.status, customerId: billing.customerId },
        gracePeriodEndsAt: billing.graceEndsAt,
        checkoutAvailable: deps.billing?.lemonSqueezy !== undefined,
      };
      return c.json(view);
    })
    .post('/checkout', validate('json', CheckoutBody), async (c) => {
      const { tier } = c.req.valid('json');
      const lemonSqueezy = deps.billing?.lemonSqueezy;
      if (!lemonSqueezy)
        throw new AppError(
          'not_found',
          'checkout is not available: billing is off on this platform (no Lemon Squeezy API key)',
        );
      const variantId = deps.billing?.config.variantOfTier[tier];
      if (!variantId)
        throw new AppError(
          'validation_failed',
          `the ${tier} tier is not sold here (no variant in LEMONSQUEEZY_VARIANTS)`,
        );
      try {
        const url = await lemonSqueezy.createCheckout({ variantId, userId: c.get('userId') });
        return c.json({ url } satisfies CheckoutView);
      } catch (err) {
        if (!(err instanceof LemonSqueezyError)) throw err;
        deps.log.error({ err: err.message, status: err.statusCode, tier }, 'Lemon Squeezy refused a checkout');
        throw new AppError('internal', 'Lemon Squeezy could not open a checkout; try again shortly');
      }
    });
}

/**
 * `POST /webhooks/lemonsqueezy`: authenticated by its `X-Signature` alone (mounted outside user
 * auth), answered whenever `LEMONSQUEEZY_WEBHOOK_SECRET` is set, with or without an API key.
 * The raw body is read once and verified before it is parsed.
 */
export function lemonSqueezyWebhookRoutes(deps: ApiDeps) {
  return new Hono<AuthedEnv>().post('/lemonsqueezy', async (c) => {
    const raw = new Uint8Array(await c.req.arrayBuffer());
    return c.json(await receiveLemonSqueezyWebhook(deps, raw, c.req.header('x-signature')));
  });
}
