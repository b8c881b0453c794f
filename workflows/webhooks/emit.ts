import {
  log,
  ParentClosePolicy,
  ChildWorkflowCancellationType,
  proxyLocalActivities,
  startChild,
  uuid4,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import type { WebhookEventType } from '../../lib/contracts/index.js';
import { AgentIdKey, DeploymentIdKey, OwnerIdKey, WorkflowKindKey } from '../../lib/temporal/search-attributes.js';
import { PERMANENT_FAILURES as PERMANENT } from '../failures.js';
import { WEBHOOK_DELIVERY_WORKFLOW_KIND, webhookDeliveryWorkflowId, type WebhookRetry } from './config.js';
import { webhookDeliveryWorkflow } from './workflow.js';

// Recording an event's deliveries is a small store write: a local activity, retried quickly for
// a while, then given up (the deploy or rollback it reports on is done either way).
const store = proxyLocalActivities<Activities>({
  startToCloseTimeout: '15s',
  retry: {
    initialInterval: '250ms',
    backoffCoefficient: 2,
    maximumInterval: '10s',
    maximumAttempts: 10,
    nonRetryableErrorTypes: PERMANENT,
  },
});

export interface WebhookEvent {
  ownerId: string;
  agentId: string;
  deploymentId: string;
  type: WebhookEventType;
  /** More of the body's `data`. */
  data?: Record<string, unknown>;
  retry?: WebhookRetry;
}

/**
 * Sends an event to the owner's subscribed endpoints, for deploy and rollback workflows (behind
 * `patched(WEBHOOKS_PATCH)`): records one delivery per endpoint (once per event id, made here
 * so a retry records the same event), then starts `webhook-<deliveryId>` for each as an
 * abandoned child (ParentClosePolicy ABANDON, cancellation not passed on), which outlives its
 * parent. It waits only for the children to start; whatever fails here is logged, never thrown:
 * a webhook must not delay or fail the deploy it reports on.
 */
export async function emitWebhookEvent(event: WebhookEvent): Promise<void> {
  let deliveryIds: string[];
  try {
    ({ deliveryIds } = await store.recordWebhookEvent({
      ownerId: event.ownerId,
      eventId: `evt_${uuid4().replaceAll('-', '')}`,
      type: event.type,
      agentId: event.agentId,
      deploymentId: event.deploymentId,
      ...(event.data ? { data: event.data } : {}),
      occurredAt: new Date().toISOString(),
    }));
  } catch (err) {
    log.error('could not record the webhook event', { type: event.type, error: String(err) });
    return;
  }
  for (const deliveryId of deliveryIds) {
    try {
      await startChild(webhookDeliveryWorkflow, {
        workflowId: webhookDeliveryWorkflowId(deliveryId),
        args: [{ ownerId: event.ownerId, deliveryId, ...(event.retry ? { retry: event.retry } : {}) }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        cancellationType: ChildWorkflowCancellationType.ABANDON,
        typedSearchAttributes: [
          { key: AgentIdKey, value: event.agentId },
          { key: OwnerIdKey, value: event.ownerId },
          { key: DeploymentIdKey, value: event.deploymentId },
          { key: WorkflowKindKey, value: WEBHOOK_DELIVERY_WORKFLOW_KIND },
        ],
      });
    } catch (err) {
      // already started (a replayed record answered the same ids) or refused: the delivery is on its way or recorded
      log.warn('could not start a webhook delivery', { deliveryId, error: String(err) });
    }
  }
}
