import { v } from 'convex/values';
import type { QueryCtx } from './_generated/server.js';
import { IDEMPOTENCY_KEY_TTL_MS } from '../lib/contracts/index.js';
import { serviceMutation } from './functions.js';

// Idempotency-Key records (architecture.md, Contracts). Answers travel as JSON text (see schema.ts).

const record = (db: QueryCtx['db'], ownerId: string, key: string) =>
  db
    .query('idempotencyRecords')
    .withIndex('by_ownerId_key', (q) => q.eq('ownerId', ownerId).eq('key', key))
    .unique();

/** The first request under a key owns it, for 24 hours: of concurrent ones exactly one is answered `new`. */
export const begin = serviceMutation({
  args: { ownerId: v.string(), key: v.string(), requestHash: v.string(), now: v.number() },
  returns: v.union(
    v.object({ state: v.literal('new') }),
    v.object({ state: v.literal('in_progress') }),
    v.object({ state: v.literal('mismatch') }),
    v.object({ state: v.literal('done'), status: v.number(), body: v.string() }),
  ),
  handler: async (ctx, { ownerId, key, requestHash, now }) => {
    const existing = await record(ctx.db, ownerId, key);
    const fresh = { ownerId, key, requestHash, status: null, body: null, createdAt: now };
    if (existing === null) {
      await ctx.db.insert('idempotencyRecords', fresh);
      return { state: 'new' as const };
    }
    // A key older than its time to live is taken anew.
    if (existing.createdAt < now - IDEMPOTENCY_KEY_TTL_MS) {
      await ctx.db.replace(existing._id, fresh);
      return { state: 'new' as const };
    }
    if (existing.requestHash !== requestHash) return { state: 'mismatch' as const };
    if (existing.status === null || existing.body === null) return { state: 'in_progress' as const };
    return { state: 'done' as const, status: existing.status, body: existing.body };
  },
});

export const complete = serviceMutation({
  args: { ownerId: v.string(), key: v.string(), status: v.number(), body: v.string() },
  returns: v.null(),
  handler: async (ctx, { ownerId, key, status, body }) => {
    const existing = await record(ctx.db, ownerId, key);
    if (existing) await ctx.db.patch(existing._id, { status, body });
    return null;
  },
});

/** Frees a key whose first request failed in a way the client should retry; a finished key stays. */
export const abandon = serviceMutation({
  args: { ownerId: v.string(), key: v.string() },
  returns: v.null(),
  handler: async (ctx, { ownerId, key }) => {
    const existing = await record(ctx.db, ownerId, key);
    if (existing?.status === null) await ctx.db.delete(existing._id);
    return null;
  },
});
