import { v, type Infer } from 'convex/values';
import { agentsToRebalance } from '../lib/contracts/tiers.js';
import type { MutationCtx } from './_generated/server.js';
import { fail, serviceMutation, serviceQuery } from './functions.js';
import { auditNote, findUser, insertAudit, recordChange, toUser, userOut } from './model.js';
import { addOn, tier, type BillingStateDoc } from './schema.js';

const billingPatch = v.object({
  customerId: v.optional(v.nullable(v.string())),
  subscriptionId: v.optional(v.nullable(v.string())),
  subscriptionItemId: v.optional(v.nullable(v.string())),
  status: v.optional(v.nullable(v.string())),
  graceEndsAt: v.optional(v.nullable(v.string())),
});
const BILLING_KEYS = ['customerId', 'subscriptionId', 'subscriptionItemId', 'status', 'graceEndsAt'] as const;

const changePlanArgs = {
  userId: v.string(),
  tier: v.optional(tier),
  addOns: v.optional(v.array(addOn)),
  billing: v.optional(billingPatch),
  ifGraceEndsAt: v.optional(v.nullable(v.string())),
  now: v.number(),
  audit: v.optional(auditNote),
};
const planChangeOut = v.object({
  user: userOut,
  applied: v.boolean(),
  changed: v.boolean(),
  paused: v.array(v.string()),
  resumed: v.array(v.string()),
});

/**
 * A user's tier, add-ons and billing state, and their agents brought in line with it (paused past
 * the tier's count or on a runtime it does not open, resumed when it allows them again), with its
 * audit entries: one transaction. The same semantics as the SQL store's (`changeUserPlan`).
 */
async function changePlan(
  ctx: MutationCtx,
  input: {
    userId: string;
    tier?: Infer<typeof tier>;
    addOns?: Infer<typeof addOn>[];
    billing?: Infer<typeof billingPatch>;
    ifGraceEndsAt?: string | null;
    now: number;
    audit?: Infer<typeof auditNote>;
  },
): Promise<Infer<typeof planChangeOut>> {
  const doc = await findUser(ctx.db, input.userId);
  if (doc === null) fail('not_found', 'user not found');
  const before = toUser(doc);
  if (input.ifGraceEndsAt !== undefined && before.billing.graceEndsAt !== input.ifGraceEndsAt)
    return { user: before, applied: false, changed: false, paused: [], resumed: [] };

  const nextTier = input.tier ?? before.tier;
  const addOns = input.addOns ? [...new Set(input.addOns)].sort() : before.addOns;
  const billing: BillingStateDoc & { graceEndsAt: string | null } = { ...before.billing };
  for (const key of BILLING_KEYS) {
    const value = input.billing?.[key];
    if (value !== undefined)
      billing[key] = key === 'graceEndsAt' && value !== null ? new Date(value).toISOString() : value;
  }
  const user = { ...before, tier: nextTier, addOns, billing };
  const userChanged = JSON.stringify(user) !== JSON.stringify(before);
  if (userChanged) await ctx.db.patch(doc._id, { tier: nextTier, addOns, billing, updatedAt: input.now });

  const agents = await ctx.db
    .query('agents')
    .withIndex('by_ownerId_status_agentId', (q) => q.eq('ownerId', input.userId).eq('status', 'active'))
    .collect();
  const { pause, resume } = agentsToRebalance(
    { tier: nextTier, addOns },
    agents.map((a) => ({ id: a.agentId, runtime: a.runtime, paused: a.pausedAt != null, createdAt: a.createdAt })),
  );
  const pausing = new Set(pause);
  for (const a of agents) {
    if (!pausing.has(a.agentId) && !resume.includes(a.agentId)) continue;
    await ctx.db.patch(a._id, { pausedAt: pausing.has(a.agentId) ? input.now : null, updatedAt: input.now });
    await recordChange(ctx, { ownerId: input.userId, kind: 'agent', id: a.agentId, serving: true });
  }

  const changed = userChanged || pause.length > 0 || resume.length > 0;
  if (changed && input.audit) {
    const { audit } = input;
    const details = {
      ...(audit.details === null ? {} : (JSON.parse(audit.details) as object)),
      paused: pause,
      resumed: resume,
    };
    const entry = { ownerId: input.userId, actor: audit.actor, at: input.now };
    await insertAudit(ctx.db, {
      ...entry,
      action: audit.action,
      targetType: audit.targetType,
      targetId: audit.targetId,
      details: JSON.stringify(details),
    });
    for (const [ids, action] of [
      [pause, 'agent.paused'],
      [resume, 'agent.resumed'],
    ] as const)
      for (const id of ids)
        await insertAudit(ctx.db, {
          ...entry,
          action,
          targetType: 'agent',
          targetId: id,
          details: JSON.stringify({ tier: nextTier, addOns }),
        });
  }
  return { user, applied: true, changed, paused: pause, resumed: resume };
}

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
  handler: async (ctx, input) => (await changePlan(ctx, input)).user,
});

/** See `changePlan`. */
export const changePlanOf = serviceMutation({
  args: changePlanArgs,
  returns: planChangeOut,
  handler: (ctx, input) => changePlan(ctx, input),
});

/** Replaces the user's add-ons. */
export const setAddOns = serviceMutation({
  args: { userId: v.string(), addOns: v.array(addOn), now: v.number() },
  returns: userOut,
  handler: async (ctx, input) => (await changePlan(ctx, input)).user,
});

/** Merges the given billing ids into the user's: an absent field keeps its value, null clears it. */
export const setBilling = serviceMutation({
  args: {
    userId: v.string(),
    billing: billingPatch,
    now: v.number(),
  },
  returns: userOut,
  handler: async (ctx, { userId, billing, now }) => {
    const user = await findUser(ctx.db, userId);
    if (user === null) fail('not_found', 'user not found');
    const merged = { ...user.billing };
    for (const key of BILLING_KEYS) {
      const value = billing[key];
      if (value !== undefined) merged[key] = value;
    }
    await ctx.db.patch(user._id, { billing: merged, updatedAt: now });
    return toUser({ ...user, billing: merged });
  },
});
