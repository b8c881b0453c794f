import { ApplicationFailure, Context } from '@temporalio/activity';
import type { WebhookEventType, WebhookPayload } from '../lib/contracts/index.js';
import { WEBHOOK_DELIVERIES_PER_ENDPOINT } from '../lib/limits.js';
import type { Store } from '../lib/store/index.js';
import type { WebhookConfig } from '../lib/webhooks/config.js';
import { judgeAttempt, sendWebhook, WEBHOOK_ATTEMPT_TIMEOUT_MS } from '../lib/webhooks/send.js';
import { webhookHeaders } from '../lib/webhooks/signing.js';
import { PermanentFailure, RetryableFailure } from '../workflows/failures.js';
import { storeCall } from './calls.js';

export interface WebhookActivityDeps {
  store: Store;
  /** Signing secrets and the URL policy; absent, deliveries fail as a misconfiguration (events are still recorded). */
  webhooks?: WebhookConfig & { attemptTimeoutMs?: number };
}

export interface RecordWebhookEventInput {
  ownerId: string;
  /** Made in the workflow, so a retry records the same event. */
  eventId: string;
  type: WebhookEventType;
  agentId: string;
  deploymentId: string;
  /** More of the body's `data`, beside the agent and deployment ids. */
  data?: Record<string, unknown>;
  /** Workflow time: the body's `createdAt`. */
  occurredAt: string;
}

export interface RecordWebhookEventResult {
  deliveryIds: string[];
}

export interface DeliverWebhookInput {
  ownerId: string;
  deliveryId: string;
  /** The retry policy's attempts: the last one that fails gives the delivery up. */
  maxAttempts: number;
}

export interface DeliverWebhookResult {
  status: 'succeeded' | 'failed';
  attempts: number;
  responseStatus: number | null;
}

export interface GiveUpWebhookInput {
  ownerId: string;
  deliveryId: string;
  reason: string;
  now: string;
}

export interface GiveUpWebhookResult {
  status: 'pending' | 'succeeded' | 'failed';
}

/** Outbound webhooks: record an event's deliveries, send one attempt, give one up. */
export function createWebhookActivities(deps: WebhookActivityDeps) {
  return {
    /**
     * One pending delivery per subscribed endpoint of the owner, the body built here once and
     * sent as it is in every attempt. Safe to retry: the store records an event id once and
     * answers the same ids again.
     */
    async recordWebhookEvent(input: RecordWebhookEventInput): Promise<RecordWebhookEventResult> {
      const payload: WebhookPayload = {
        type: input.type,
        id: input.eventId,
        createdAt: input.occurredAt,
        data: { ...input.data, agentId: input.agentId, deploymentId: input.deploymentId },
      };
      return storeCall(() =>
        deps.store.recordWebhookDeliveries({
          ownerId: input.ownerId,
          eventId: input.eventId,
          type: input.type,
          agentId: input.agentId,
          deploymentId: input.deploymentId,
          body: JSON.stringify(payload),
          keepPerEndpoint: WEBHOOK_DELIVERIES_PER_ENDPOINT,
          now: new Date(input.occurredAt),
        }),
      );
    },

    /**
     * One attempt: sign the stored body with the endpoint's secret (derived here, never passed
     * in), POST it, and record the outcome on the delivery. 2xx succeeds; 4xx other than 408 and
     * 429 (and 3xx) fails for good (`WebhookRejected`); anything else is retried by the workflow's
     * policy (`WebhookAttemptFailed`), and the last allowed attempt gives the delivery up. Safe to
     * retry: each attempt is signed afresh under the same `webhook-id`, so a receiver that saw
     * an earlier one can tell; a delivery that is final already is not sent again.
     */
    async deliverWebhook(input: DeliverWebhookInput): Promise<DeliverWebhookResult> {
      const webhooks = deps.webhooks;
      if (!webhooks) {
        throw ApplicationFailure.nonRetryable(
          'webhooks are not configured on this worker',
          PermanentFailure.WebhooksNotConfigured,
        );
      }
      const target = await storeCall(() => deps.store.getWebhookDeliveryTarget(input.ownerId, input.deliveryId));
      if (!target) {
        throw ApplicationFailure.nonRetryable('the delivery or its endpoint is gone', PermanentFailure.NotFound);
      }
      if (target.status !== 'pending') return { status: target.status, attempts: 0, responseStatus: null };

      const attempt = Context.current().info.attempt;
      const sent = await sendWebhook({
        url: target.url,
        headers: webhookHeaders({
          secret: webhooks.secretFor(target.endpointId),
          id: target.deliveryId,
          body: target.body,
          now: new Date(),
        }),
        body: target.body,
        policy: webhooks.urlPolicy,
        timeoutMs: webhooks.attemptTimeoutMs ?? WEBHOOK_ATTEMPT_TIMEOUT_MS,
      });
      const verdict = judgeAttempt(sent);
      const responseStatus = sent.kind === 'answered' ? sent.status : null;
      const error =
        sent.kind === 'no_answer'
          ? sent.error
          : verdict === 'succeeded'
            ? null
            : `HTTP ${sent.status}${sent.snippet ? `: ${sent.snippet}` : ''}`;
      const lastAttempt = attempt >= input.maxAttempts;
      const status =
        verdict === 'succeeded' ? 'succeeded' : verdict === 'permanent' || lastAttempt ? 'failed' : 'pending';
      const recorded = await storeCall(() =>
        deps.store.recordWebhookAttempt({
          ownerId: input.ownerId,
          deliveryId: input.deliveryId,
          attempt,
          status,
          responseStatus,
          error: error === null ? null : error.slice(0, 1024),
          now: new Date(),
        }),
      );
      if (status === 'succeeded') return { status, attempts: recorded.attempts, responseStatus };
      if (status === 'failed') {
        throw ApplicationFailure.nonRetryable(
          `${error} (attempt ${attempt}${lastAttempt && verdict !== 'permanent' ? ', the last' : ''})`,
          verdict === 'permanent' ? PermanentFailure.WebhookRejected : RetryableFailure.WebhookAttemptFailed,
        );
      }
      throw ApplicationFailure.retryable(`${error} (attempt ${attempt})`, RetryableFailure.WebhookAttemptFailed);
    },

    /**
     * Gives a delivery up when its workflow stops trying for a reason the attempts did not record
     * (a worker lost mid-attempt on the last try). Safe to retry: a final delivery stays as it is.
     */
    async giveUpWebhookDelivery(input: GiveUpWebhookInput): Promise<GiveUpWebhookResult> {
      const delivery = await storeCall(() =>
        deps.store.recordWebhookAttempt({
          ownerId: input.ownerId,
          deliveryId: input.deliveryId,
          attempt: 1,
          status: 'failed',
          responseStatus: null,
          error: input.reason.slice(0, 1024),
          now: new Date(input.now),
        }),
      );
      return { status: delivery.status };
    },
  };
}
