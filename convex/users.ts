import { v } from 'convex/values';
import type { Doc } from './_generated/dataModel.js';
import { fail, serviceMutation, serviceQuery } from './functions.js';
import { findUser, iso, userOut } from './model.js';
import { addOn, tier } from './schema.js';

const toUser = (d: Doc<'users'>) => ({
  id: d.userId,
  tier: d.tier,
  addOns: d.addOns ?? [],
  defaultRuntime: d.defaultRuntime,
  billing: d.billing,
  createdAt: iso(d.createdAt),
});

/** Creates the user row on first sight; later calls change nothing. */
export const ensure = serviceMutation({
  args: { userId: v.string(), now: v.number(), tier: v.optional(tier) },
  returns: v.null(),
  handler: async (ctx, { userId, now, tier }) => {
    if (await findUser(ctx.db, userId)) return null;
    await ctx.db.insert('users', {
      userId,
      tier: tier ?? 'free',
      addOns: [],
      defaultRuntime: 'local',
      billing: { customerId: null, subscriptionId: null, subscriptionItemId: null, status: null },
      telemetryFrom: null,
      createdAt: now,
      updatedAt: now,
    });
    return null;
  },
});

export const get = serviceQuery({
  args: { userId: v.string() },
  returns: userOut,
  handler: async (ctx, { userId }) => {
    const user = await findUser(ctx.db, userId);
    if (user === null) fail('not_found', 'user not found');
    return toUser(user);
  },
});

export const setTier = serviceMutation({
  args: { userId: v.string(), tier, now: v.number() },
  returns: userOut,
  handler: async (ctx, { userId, tier, now }) => {
    const user = await findUser(ctx.db, userId);
    if (user === null) fail('not_found', 'user not found');
    await ctx.db.patch(user._id, { tier, updatedAt: now });
    return toUser({ ...user, tier });
  },
});

/** Replaces the user's add-ons. */
export const setAddOns = serviceMutation({
  args: { userId: v.string(), addOns: v.array(addOn), now: v.number() },
  returns: userOut,
  handler: async (ctx, { userId, addOns, now }) => {
    const user = await findUser(ctx.db, userId);
    if (user === null) fail('not_found', 'user not found');
    const sorted = [...new Set(addOns)].sort();
    await ctx.db.patch(user._id, { addOns: sorted, updatedAt: now });
    return toUser({ ...user, addOns: sorted });
  },
});

/** Merges the given billing ids into the user's: an absent field keeps its value, null clears it. */
export const setBilling = serviceMutation({
  args: {
    userId: v.string(),
    billing: v.object({
      customerId: v.optional(v.nullable(v.string())),
      subscriptionId: v.optional(v.nullable(v.string())),
      subscriptionItemId: v.optional(v.nullable(v.string())),
      status: v.optional(v.nullable(v.string())),
    }),
    now: v.number(),
  },
  returns: userOut,
  handler: async (ctx, { userId, billing, now }) => {
    const user = await findUser(ctx.db, userId);
    if (user === null) fail('not_found', 'user not found');
    const merged = { ...user.billing };
    for (const key of ['customerId', 'subscriptionId', 'subscriptionItemId', 'status'] as const) {
      const value = billing[key];
      if (value !== undefined) merged[key] = value;
    }
    await ctx.db.patch(user._id, { billing: merged, updatedAt: now });
    return toUser({ ...user, billing: merged });
  },
});
