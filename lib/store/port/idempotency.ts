import { z } from 'zod';
import { Id } from '../../contracts/index.js';
import { Instant, Short, type Rules } from './rules.js';

/**
 * What must happen once: requests under an `Idempotency-Key` (architecture.md, Contracts), and provider
 * webhook deliveries. Both are a record taken by the first caller.
 */
export interface IdempotencyStore {
  /** The first request under a key owns it, for `IDEMPOTENCY_KEY_TTL_MS`; after that the key is new again. */
  beginIdempotent(input: IdempotencyKeyRef & { requestHash: string; now: Date }): Promise<IdempotencyBegin>;
  completeIdempotent(input: IdempotencyKeyRef & { status: number; body: unknown }): Promise<void>;
  /** Frees a key whose first request failed in a way the client should retry. */
  abandonIdempotent(input: IdempotencyKeyRef): Promise<void>;
  /** True the first time a provider's event id is seen, false for every redelivery. */
  recordWebhookEvent(input: { provider: string; eventId: string; eventName: string; now: Date }): Promise<boolean>;
}

export interface IdempotencyKeyRef {
  ownerId: string;
  key: string;
}

export type IdempotencyBegin =
  | { state: 'new' }
  | { state: 'in_progress' }
  | { state: 'mismatch' }
  | { state: 'done'; status: number; body: unknown };

export const idempotencyRules: Rules<IdempotencyStore> = {
  beginIdempotent: z.tuple([z.object({ ownerId: Id, key: Short(255), requestHash: Short(128), now: Instant })]),
  completeIdempotent: z.tuple([
    z.object({ ownerId: Id, key: Short(255), status: z.number().int().min(100).max(599), body: z.unknown() }),
  ]),
  abandonIdempotent: z.tuple([z.object({ ownerId: Id, key: Short(255) })]),
  recordWebhookEvent: z.tuple([
    z.object({ provider: Short(32), eventId: Short(128), eventName: Short(64), now: Instant }),
  ]),
};
