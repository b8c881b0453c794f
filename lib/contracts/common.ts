import { z } from 'zod';

export const Runtime = z.enum(['local', 'cloudflare', 'agentcore']);
export type Runtime = z.infer<typeof Runtime>;

/** Ids are opaque prefixed strings: `agt_…`, `dep_…`. */
export const Id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be an id');

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});
export type PageQuery = z.infer<typeof PageQuery>;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** The largest request body the api reads: a files source (5 MiB of text) as JSON, with room for escaping. */
export const API_MAX_BODY_BYTES = 8 * 1024 * 1024;

/** How long an `Idempotency-Key` holds: a repeat after this is a new request. */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 3_600_000;
