import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import { z } from 'zod';
import {
  AppError,
  CreateApiKeyBody,
  Id,
  type ApiKey,
  type ApiKeyView,
  type CreatedApiKey,
} from '../../lib/contracts/index.js';
import { newApiKey } from '../../lib/auth/api-keys.js';
import { newId } from '../../lib/ids.js';
import { API_KEYS_PER_OWNER } from '../../lib/limits.js';
import type { AuthedEnv } from '../../lib/http/middleware.js';
import { validate } from '../../lib/http/validate.js';
import type { ApiDeps } from '../deps.js';

const KeyParam = z.object({ keyId: Id });

const view = ({ id, name, prefix, agentId, createdAt, revokedAt }: ApiKey): ApiKeyView => ({
  id,
  name,
  prefix,
  agentId,
  createdAt,
  revokedAt,
});

/**
 * `/v1/api-keys`: keys that invoke the owner's agents at the gateway, each optionally bound to
 * one agent. The key is in the answer to the POST that made it and nowhere else: the store
 * keeps its hash and a display prefix. Managed with a user token only; a key cannot make keys.
 * Creating and revoking are in the owner's audit log (`api_key.created`, `api_key.revoked`).
 */
export function apiKeyRoutes(deps: ApiDeps) {
  const { store } = deps;
  return (
    new Hono<AuthedEnv>()
      .post('/', noIdempotencyKey(), validate('json', CreateApiKeyBody), async (c) => {
        const { name, agentId } = c.req.valid('json');
        const userId = c.get('userId');
        const { key, prefix, hash } = newApiKey();
        const created = await store.createApiKey({
          id: newId('key'),
          ownerId: userId,
          name,
          prefix,
          hash,
          agentId: agentId ?? null,
          actor: `user:${userId}`,
          maxActive: API_KEYS_PER_OWNER,
          now: new Date(),
        });
        const body: CreatedApiKey = { ...view(created), key };
        c.header('Cache-Control', 'no-store');
        return c.json(body, 201);
      })
      .get('/', async (c) => c.json({ items: (await store.listApiKeys(c.get('userId'))).map(view) }))
      // Revoking a revoked key is fine (204 again); it stops working on the next request.
      .delete('/:keyId', validate('param', KeyParam), async (c) => {
        const userId = c.get('userId');
        await store.revokeApiKey({
          ownerId: userId,
          id: c.req.valid('param').keyId,
          actor: `user:${userId}`,
          now: new Date(),
        });
        return c.body(null, 204);
      })
  );
}

/**
 * `Idempotency-Key` is refused here rather than honoured: a replay would have to return the
 * first answer, which holds the key, and the key must not be stored anywhere. A create that
 * may have been lost is checked with `GET /v1/api-keys`; an extra key is revoked.
 */
function noIdempotencyKey() {
  return createMiddleware<AuthedEnv>(async (c, next) => {
    if (c.req.header('idempotency-key') !== undefined) {
      throw new AppError(
        'validation_failed',
        'Idempotency-Key is not taken when creating an API key: its stored answer would hold the key. List your keys with GET /v1/api-keys and revoke any extra one',
      );
    }
    return next();
  });
}
