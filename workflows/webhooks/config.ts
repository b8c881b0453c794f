/** One delivery workflow per delivery (one event to one endpoint). It runs on its parent's task queue. */
export const webhookDeliveryWorkflowId = (deliveryId: string) => `webhook-${deliveryId}`;

export const WEBHOOK_DELIVERY_WORKFLOW_KIND = 'webhook-delivery';

/** Patch id: deploys and rollbacks send webhooks (those started before it send none). */
export const WEBHOOKS_PATCH = 'webhooks';

/** How a delivery is retried: exponential backoff, a bounded number of attempts. */
export interface WebhookRetry {
  initialIntervalMs: number;
  maximumIntervalMs: number;
  maximumAttempts: number;
}

/**
 * 8 attempts over about 5 hours (5 s, 20 s, 80 s, 5 min, 21 min, 1 h 25 min, 2 h between them),
 * about what Stripe and Svix give a receiver that is down for a while; input can shorten it for tests.
 */
export const DEFAULT_WEBHOOK_RETRY: WebhookRetry = {
  initialIntervalMs: 5_000,
  maximumIntervalMs: 2 * 3_600_000,
  maximumAttempts: 8,
};

/** How much each wait grows. */
export const WEBHOOK_BACKOFF_COEFFICIENT = 4;
