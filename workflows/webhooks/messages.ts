import { defineQuery } from '@temporalio/workflow';
import type { WebhookRetry } from './config.js';

/** Ids only: the activity loads the URL and body from the store and derives the signing secret. */
export interface WebhookDeliveryInput {
  ownerId: string;
  deliveryId: string;
  retry?: WebhookRetry;
}

export interface WebhookDeliveryResult {
  deliveryId: string;
  status: 'succeeded' | 'failed';
  /** Why it gave up, when it did. */
  error?: string;
}

export interface WebhookDeliveryProgress {
  deliveryId: string;
  state: 'delivering' | 'succeeded' | 'failed';
}

/** Where the delivery is; operators read it in Temporal UI, users see the attempts on `GET /v1/webhooks/:id/deliveries`. */
export const webhookProgressQuery = defineQuery<WebhookDeliveryProgress>('progress');
