import { api } from '../../../convex/_generated/api.js';
import type { IdempotencyStore } from '../port/index.js';
import { fromJsonText, ms, type ConvexCaller } from './call.js';

export function convexIdempotency(call: ConvexCaller): IdempotencyStore {
  return {
    async beginIdempotent(input) {
      const begun = await call.mutation(api.idempotency.begin, { ...input, now: ms(input.now) });
      return begun.state === 'done' ? { state: 'done', status: begun.status, body: fromJsonText(begun.body) } : begun;
    },
    async completeIdempotent(input) {
      // as the SQL adapter keeps it: an answer without a body replays as null
      await call.mutation(api.idempotency.complete, { ...input, body: JSON.stringify(input.body ?? null) });
    },
    async abandonIdempotent(input) {
      await call.mutation(api.idempotency.abandon, input);
    },
    recordWebhookEvent: (input) => call.mutation(api.billing.recordWebhookEvent, { ...input, now: ms(input.now) }),
  };
}
