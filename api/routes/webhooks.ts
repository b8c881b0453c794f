import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import { z } from 'zod';
import {
  AppError,
  CreateWebhookBody,
  Id,
  PageQuery,
  UpdateWebhookBody,
  type CreatedWebhookEndpoint,
} from '../../lib/contracts/index.js';
import { newId } from '../../lib/ids.js';
import { WEBHOOK_ENDPOINTS_PER_OWNER } from '../../lib/limits.js';
import type { AuthedEnv } from '../../lib/http/middleware.js';
import { validate } from '../../lib/http/validate.js';
import { checkWebhookUrl } from '../../lib/webhooks/url.js';
import type { ApiDeps } from '../deps.js';

const EndpointParam = z.object({ endpointId: Id });

/**
 * `/v1/webhooks`: endpoints that receive the owner's deploy events (`deployment.live`,
 * `deployment.failed`, `rollback.completed`), signed the Standard Webhooks way and retried by
 * a workflow (workflows/webhooks/). The signing secret is in the answer to the POST that made
 * the endpoint and nowhere else: it is derived from the master key, never stored. Creating and
 * deleting are in the owner's audit log (`webhook.created`, `webhook.deleted`).
 */
export function webhookRoutes(deps: ApiDeps) {
  const { store } = deps;
  return (
    new Hono<AuthedEnv>()
      .post('/', noIdempotencyKey(), validate('json', CreateWebhookBody), async (c) => {
        const webhooks = deps.webhooks;
        if (!webhooks) throw new Error('webhooks are not configured on this api (ApiDeps.webhooks)');
        const { url, events, description } = c.req.valid('json');
        const checked = checkWebhookUrl(url, webhooks.urlPolicy);
        const userId = c.get('userId');
        const endpoint = await store.createWebhookEndpoint({
          id: newId('whe'),
          ownerId: userId,
          url: checked.href,
          events,
          description: description || null,
          actor: `user:${userId}`,
          maxActive: WEBHOOK_ENDPOINTS_PER_OWNER,
          now: new Date(),
        });
        const body: CreatedWebhookEndpoint = { ...endpoint, secret: webhooks.secretFor(endpoint.id) };
        c.header('Cache-Control', 'no-store');
        return c.json(body, 201);
      })
      .get('/', validate('query', PageQuery), async (c) =>
        c.json(await store.listWebhookEndpoints(c.get('userId'), c.req.valid('query'))),
      )
      // Disabling stops new events; deliveries already under way go on.
      .patch('/:endpointId', validate('param', EndpointParam), validate('json', UpdateWebhookBody), async (c) => {
        const userId = c.get('userId');
        return c.json(
          await store.setWebhookEndpointDisabled({
            ownerId: userId,
            id: c.req.valid('param').endpointId,
            disabled: c.req.valid('json').disabled,
            actor: `user:${userId}`,
            now: new Date(),
          }),
        );
      })
      .delete('/:endpointId', validate('param', EndpointParam), async (c) => {
        const userId = c.get('userId');
        await store.deleteWebhookEndpoint({
          ownerId: userId,
          id: c.req.valid('param').endpointId,
          actor: `user:${userId}`,
          now: new Date(),
        });
        return c.body(null, 204);
      })
      .get('/:endpointId/deliveries', validate('param', EndpointParam), validate('query', PageQuery), async (c) =>
        c.json(
          await store.listWebhookDeliveries(c.get('userId'), c.req.valid('param').endpointId, c.req.valid('query')),
        ),
      )
  );
}

/**
 * `Idempotency-Key` is refused here rather than honoured, as for API keys: a replay would have
 * to return the first answer, which holds the signing secret, and stored answers must not hold
 * secrets. A create that may have been lost is checked with `GET /v1/webhooks`; an extra
 * endpoint is deleted.
 */
function noIdempotencyKey() {
  return createMiddleware<AuthedEnv>(async (c, next) => {
    if (c.req.header('idempotency-key') !== undefined) {
      throw new AppError(
        'validation_failed',
        'Idempotency-Key is not taken when creating a webhook endpoint: its stored answer would hold the signing secret. List your endpoints with GET /v1/webhooks and delete any extra one',
      );
    }
    return next();
  });
}
