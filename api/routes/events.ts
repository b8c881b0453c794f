import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { isReset, type StoreChange } from '../../lib/store/index.js';
import type { AuthedEnv } from '../../lib/http/middleware.js';
import type { ApiDeps } from '../deps.js';

/** How often an idle stream sends a comment, so proxies keep it open. */
const HEARTBEAT_MS = 15_000;

/**
 * `GET /v1/events`: Server-Sent Events of changes to the caller's own agents and
 * deployments (`event: change`, data `{ kind, id }`), and `event: reset` when changes may
 * have been missed. The dashboard re-reads what an event names. In Convex mode the
 * dashboard subscribes to Convex queries instead.
 */
export function eventRoutes(deps: ApiDeps) {
  return new Hono<AuthedEnv>().get('/', (c) => {
    const feed = deps.changes;
    const ownerId = c.get('userId');
    return streamSSE(c, async (stream) => {
      const queue: StoreChange[] = [];
      let wake: (() => void) | null = null;
      const unsubscribe = feed.subscribe(ownerId, (change) => {
        queue.push(change);
        wake?.();
      });
      stream.onAbort(() => wake?.());
      try {
        await stream.writeSSE({ event: 'ready', data: '{}' });
        while (!stream.aborted) {
          const change = queue.shift();
          if (change) {
            await stream.writeSSE(
              isReset(change)
                ? { event: 'reset', data: '{}' }
                : { event: 'change', data: JSON.stringify({ kind: change.kind, id: change.id }) },
            );
            continue;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, HEARTBEAT_MS).unref();
          });
          wake = null;
          if (queue.length === 0 && !stream.aborted) await stream.write(': keep-alive\n\n');
        }
      } finally {
        unsubscribe();
      }
    });
  });
}
