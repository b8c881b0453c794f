import { createHash } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import { AppError } from '../lib/contracts/index.js';
import type { AuthedEnv } from '../lib/http/middleware.js';
import type { Store } from '../lib/store/index.js';

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * `Idempotency-Key` on POSTs that create or start work (architecture.md, Contracts): the first request
 * under a key owns it; a repeat gets the first answer (`Idempotent-Replayed: true`), a
 * concurrent repeat `409`, and a different request under the same key `409`. Answers of
 * 5xx free the key so the client can retry.
 */
export function idempotency(store: Store) {
  return createMiddleware<AuthedEnv>(async (c, next) => {
    const key = c.req.header('idempotency-key');
    if (key === undefined) return next();
    if (!KEY_PATTERN.test(key))
      throw new AppError('validation_failed', 'Idempotency-Key must be 1–255 printable ASCII characters');
    const ownerId = c.get('userId');
    const requestHash = createHash('sha256')
      .update(`${c.req.method} ${c.req.path}\n`)
      .update(await c.req.text())
      .digest('hex');

    const begin = await store.beginIdempotent({ ownerId, key, requestHash, now: new Date() });
    if (begin.state === 'done') {
      c.header('Idempotent-Replayed', 'true');
      return c.json(begin.body as object, begin.status as 200);
    }
    if (begin.state === 'in_progress')
      throw new AppError('conflict', 'a request with this Idempotency-Key is still in progress');
    if (begin.state === 'mismatch')
      throw new AppError('conflict', 'this Idempotency-Key was used for a different request');

    try {
      await next();
    } finally {
      if (c.res.status < 500 && c.res.headers.get('content-type')?.includes('json')) {
        await store.completeIdempotent({ ownerId, key, status: c.res.status, body: await c.res.clone().json() });
      } else {
        await store.abandonIdempotent({ ownerId, key });
      }
    }
  });
}
