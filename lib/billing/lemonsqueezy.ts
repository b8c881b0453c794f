import {
  createCheckout as lsCreateCheckout,
  createUsageRecord as lsCreateUsageRecord,
  lemonSqueezySetup,
} from '@lemonsqueezy/lemonsqueezy.js';

// Lemon Squeezy through its own SDK (FACTS.md): the SDK never throws, it answers
// `{ statusCode, data, error }`, and it calls the fixed host through global `fetch` — which is
// where tests intercept it. Here its answers become values or classified errors.

/** A call Lemon Squeezy refused or could not answer; `retryable` for 429, 5xx and network failures. */
export class LemonSqueezyError extends Error {
  constructor(
    message: string,
    readonly statusCode: number | null,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'LemonSqueezyError';
  }
}

export interface LemonSqueezy {
  /** A hosted checkout for one variant, carrying the user id in custom data; returns its URL. */
  createCheckout(input: { variantId: string; userId: string; email?: string; redirectUrl?: string }): Promise<string>;
  /**
   * Sets the subscription item's usage for its current period to `quantity` (`action: 'set'`,
   * so a retried report cannot double-bill); returns the usage record's id.
   */
  setUsage(input: { subscriptionItemId: string; quantity: number }): Promise<string>;
}

function fail(what: string, res: { statusCode: number | null; error: Error }): never {
  const status = res.statusCode;
  const retryable = status === null || status === 429 || status >= 500;
  // The SDK puts the API's `errors` in `cause`; keep the first detail, never a request body.
  const cause = res.error.cause;
  const detail =
    Array.isArray(cause) && cause[0] && typeof cause[0] === 'object' && 'detail' in cause[0]
      ? String((cause[0] as { detail: unknown }).detail)
      : res.error.message;
  throw new LemonSqueezyError(`Lemon Squeezy ${what}: ${status ?? 'no answer'} ${detail}`.trim(), status, retryable);
}

/** The Lemon Squeezy client for one store. `lemonSqueezySetup` is process-wide; one key per process. */
export function lemonSqueezyClient(config: { apiKey: string; storeId: string }): LemonSqueezy {
  lemonSqueezySetup({ apiKey: config.apiKey });
  return {
    async createCheckout({ variantId, userId, email, redirectUrl }) {
      const res = await lsCreateCheckout(config.storeId, variantId, {
        checkoutData: { ...(email ? { email } : {}), custom: { user_id: userId } },
        ...(redirectUrl ? { productOptions: { redirectUrl } } : {}),
      });
      if (res.error) fail('refused the checkout', res);
      return res.data.data.attributes.url;
    },
    async setUsage({ subscriptionItemId, quantity }) {
      const res = await lsCreateUsageRecord({ subscriptionItemId, quantity, action: 'set' });
      if (res.error) fail('refused the usage record', res);
      return String(res.data.data.id);
    },
  };
}
