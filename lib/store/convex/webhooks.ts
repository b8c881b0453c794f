import { z } from 'zod';
import { api } from '../../../convex/_generated/api.js';
import { decodeCursor, pageOf } from '../paging.js';
import type { WebhookStore } from '../port/index.js';
import { ms, type ConvexCaller } from './call.js';

export function convexWebhooks(call: ConvexCaller): WebhookStore {
  return {
    createWebhookEndpoint: ({ id, now, ...endpoint }) =>
      call.mutation(api.webhooks.createEndpoint, { ...endpoint, endpointId: id, now: ms(now) }),
    async listWebhookEndpoints(ownerId, page) {
      const before = decodeCursor(page.cursor, z.string());
      const { items, next } = await call.query(api.webhooks.listEndpoints, { ownerId, limit: page.limit, before });
      return pageOf(items, next);
    },
    setWebhookEndpointDisabled: ({ ownerId, id, disabled, actor, now }) =>
      call.mutation(api.webhooks.setDisabled, { ownerId, endpointId: id, disabled, actor, now: ms(now) }),
    async deleteWebhookEndpoint({ ownerId, id, actor, now }) {
      await call.mutation(api.webhooks.deleteEndpoint, { ownerId, endpointId: id, actor, now: ms(now) });
    },
    async listWebhookDeliveries(ownerId, endpointId, page) {
      const before = decodeCursor(page.cursor, z.string());
      const { items, next } = await call.query(api.webhooks.listDeliveries, {
        ownerId,
        endpointId,
        limit: page.limit,
        before,
      });
      return pageOf(items, next);
    },
    recordWebhookDeliveries: ({ now, ...event }) =>
      call.mutation(api.webhooks.recordDeliveries, { ...event, now: ms(now) }),
    getWebhookDeliveryTarget: (ownerId, deliveryId) => call.query(api.webhooks.deliveryTarget, { ownerId, deliveryId }),
    recordWebhookAttempt: ({ now, ...attempt }) =>
      call.mutation(api.webhooks.recordAttempt, { ...attempt, now: ms(now) }),
  };
}
