import { createHash } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import { AppError } from '../contracts/index.js';
import type { IdempotencyStore } from '../store/index.js';
import type { AuthedEnv } from './middleware.js';

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * `Idempotency-Key` on POSTs that create or start work (architecture.md, Contracts), in the
 * api and the gateway: the first request under a key owns it; a repeat within 24 hours gets
 * the first answer (`Idempotent-Replayed: true`), a concurrent repeat `409`, and a different
 * request under the same key `409`. Keys are per owner. Only an answer that succeeded or
 * started work (2xx) is kept: after a refusal or a failure the key is free again, so the
 * corrected request can use it.
 */
export function idempotency(store: IdempotencyStore) {
  return createMiddleware<AuthedEnv>(async (c, next) => {
    const key = c.req.header('idempotency-key');
    if (key === undefined) return next();
    if (!KEY_PATTERN.test(key)) {
      throw new AppError('validation_failed', 'Idempotency-Key must be 1–255 printable ASCII characters');
    }
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
    if (begin.state === 'in_progress') {
      throw new AppError('conflict', 'a request with this Idempotency-Key is still in progress');
    }
    if (begin.state === 'mismatch') {
      throw new AppError('conflict', 'this Idempotency-Key was used for a different request');
    }

    let kept = false;
    try {
      await next();
      const { status, headers } = c.res;
      if (status >= 200 && status < 300 && headers.get('content-type')?.includes('json')) {
        await store.completeIdempotent({ ownerId, key, status, body: await c.res.clone().json() });
        kept = true;
      }
    } finally {
      if (!kept) await store.abandonIdempotent({ ownerId, key });
    }
  });
}
