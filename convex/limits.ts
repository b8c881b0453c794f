import { v } from 'convex/values';
import { TIER_LIMITS } from '../lib/contracts/index.js';
import type { MutationCtx } from './_generated/server.js';
import { fail, serviceMutation } from './functions.js';
import { findUser } from './model.js';

const counterOf = (db: MutationCtx['db'], ownerId: string, period: string) =>
  db
    .query('requestCounters')
    .withIndex('by_ownerId_period', (q) => q.eq('ownerId', ownerId).eq('period', period))
    .unique();

/**
 * Leases up to `want` of the owner's requests for the period, within the tier's limit. The
 * mutation is serializable: leases racing from any number of gateways conflict on the
 * counter and Convex retries the loser against the new count.
 */
export const lease = serviceMutation({
  args: { ownerId: v.string(), period: v.string(), want: v.number() },
  returns: v.object({ granted: v.number(), limit: v.nullable(v.number()), leased: v.number() }),
  handler: async (ctx, { ownerId, period, want }) => {
    const user = await findUser(ctx.db, ownerId);
    if (user === null) fail('not_found', 'user not found');
    const limit = TIER_LIMITS[user.tier].requestsPerPeriod;
    if (limit === null) return { granted: want, limit: null, leased: 0 };
    const counter = await counterOf(ctx.db, ownerId, period);
    const before = counter?.leased ?? 0;
    const granted = Math.max(0, Math.min(want, limit - before));
    if (granted > 0) {
      if (counter) await ctx.db.patch(counter._id, { leased: before + granted });
      else await ctx.db.insert('requestCounters', { ownerId, period, leased: granted });
    }
    return { granted, limit, leased: before + granted };
  },
});

/** Gives back leased requests a gateway did not use; never below zero. */
export const release = serviceMutation({
  args: { ownerId: v.string(), period: v.string(), count: v.number() },
  returns: v.null(),
  handler: async (ctx, { ownerId, period, count }) => {
    const counter = await counterOf(ctx.db, ownerId, period);
    if (counter) await ctx.db.patch(counter._id, { leased: Math.max(0, counter.leased - count) });
    return null;
  },
});
