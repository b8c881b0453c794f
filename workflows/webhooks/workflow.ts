import { CancellationScope, proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import { rootCause } from '../causes.js';
import { PERMANENT_FAILURES as PERMANENT } from '../failures.js';
import { DEFAULT_WEBHOOK_RETRY, WEBHOOK_BACKOFF_COEFFICIENT } from './config.js';
import { webhookProgressQuery, type WebhookDeliveryInput, type WebhookDeliveryResult } from './messages.js';

// Giving a delivery up is a small store write, run as a local activity, retried quickly.
const store = proxyLocalActivities<Activities>({
  startToCloseTimeout: '15s',
  retry: { initialInterval: '250ms', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 20 },
});

/**
 * webhook-<deliveryId>: sends one event to one endpoint until it succeeds or gives up. Each
 * attempt is the `deliverWebhook` activity (at most 10 s of HTTP inside a 30 s start-to-close),
 * retried with exponential backoff up to the policy's attempts; the activity records every
 * attempt's outcome on the delivery. A receiver's refusal (4xx but 408/429) ends it at once.
 * Started by deploy and rollback workflows as an abandoned child, so it never delays them.
 */
export async function webhookDeliveryWorkflow(input: WebhookDeliveryInput): Promise<WebhookDeliveryResult> {
  const retry = input.retry ?? DEFAULT_WEBHOOK_RETRY;
  let state: 'delivering' | 'succeeded' | 'failed' = 'delivering';
  setHandler(webhookProgressQuery, () => ({ deliveryId: input.deliveryId, state }));
  const deliver = proxyActivities<Activities>({
    startToCloseTimeout: '30s',
    retry: {
      initialInterval: retry.initialIntervalMs,
      backoffCoefficient: WEBHOOK_BACKOFF_COEFFICIENT,
      maximumInterval: retry.maximumIntervalMs,
      maximumAttempts: retry.maximumAttempts,
      nonRetryableErrorTypes: PERMANENT,
    },
  });
  try {
    const result = await deliver.deliverWebhook({
      ownerId: input.ownerId,
      deliveryId: input.deliveryId,
      maxAttempts: retry.maximumAttempts,
    });
    state = result.status;
    return { deliveryId: input.deliveryId, status: result.status };
  } catch (err) {
    const cause = rootCause(err);
    const error = cause instanceof Error ? cause.message : String(cause);
    // the attempts recorded why, unless the last one was lost on the way
    await CancellationScope.nonCancellable(() =>
      store.giveUpWebhookDelivery({
        ownerId: input.ownerId,
        deliveryId: input.deliveryId,
        reason: `gave up: ${error}`,
        now: new Date().toISOString(),
      }),
    );
    state = 'failed';
    return { deliveryId: input.deliveryId, status: 'failed', error };
  }
}
