import { paginationOptsValidator, paginationResultValidator } from 'convex/server';
import { v } from 'convex/values';
import { fail, ownerQuery } from './functions.js';
import {
  agentOut,
  auditEntryOut,
  billingPeriodOut,
  deploymentOut,
  findUser,
  ownedAgent,
  ownedDeployment,
  periodUsageOut,
  toAgent,
  toAuditEntry,
  toBillingPeriod,
  toDeployment,
  toPeriodUsage,
} from './model.js';
import { billingState, tier } from './schema.js';

// The dashboard's live queries (`convexQuery(api.dashboard.x, args)` in TanStack Query). The
// owner is always the signed-in user; another owner's ids are `not_found`, as in the REST API.

/** The owner's agents, newest first. */
export const agents = ownerQuery({
  args: { paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(agentOut),
  handler: async (ctx, { paginationOpts }) => {
    const page = await ctx.db
      .query('agents')
      .withIndex('by_ownerId_status_agentId', (q) => q.eq('ownerId', ctx.ownerId).eq('status', 'active'))
      .order('desc')
      .paginate(paginationOpts);
    return { ...page, page: page.page.map(toAgent) };
  },
});

/** An agent's deployments, newest version first. */
export const deployments = ownerQuery({
  args: { agentId: v.string(), paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(deploymentOut),
  handler: async (ctx, { agentId, paginationOpts }) => {
    await ownedAgent(ctx.db, ctx.ownerId, agentId);
    const page = await ctx.db
      .query('deployments')
      .withIndex('by_agentId_version', (q) => q.eq('agentId', agentId))
      .order('desc')
      .paginate(paginationOpts);
    return { ...page, page: page.page.map(toDeployment) };
  },
});

/** One deployment with its step log: the deploy page follows it live. */
export const deployment = ownerQuery({
  args: { deploymentId: v.string() },
  returns: deploymentOut,
  handler: async (ctx, { deploymentId }) => toDeployment(await ownedDeployment(ctx.db, ctx.ownerId, deploymentId)),
});

/** The owner's usage in a billing period, one row per runtime. */
export const usage = ownerQuery({
  args: { period: v.string() },
  returns: v.array(periodUsageOut),
  handler: async (ctx, { period }) =>
    (
      await ctx.db
        .query('usage')
        .withIndex('by_ownerId_period_runtime', (q) => q.eq('ownerId', ctx.ownerId).eq('period', period))
        .collect()
    ).map(toPeriodUsage),
});

/** The owner's tier and subscription, and the state of one billing period. */
export const billing = ownerQuery({
  args: { period: v.string() },
  returns: v.object({ tier, billing: billingState, period: billingPeriodOut }),
  handler: async (ctx, { period }) => {
    const user = await findUser(ctx.db, ctx.ownerId);
    if (user === null) fail('not_found', 'user not found');
    const row = await ctx.db
      .query('billingPeriods')
      .withIndex('by_ownerId_period', (q) => q.eq('ownerId', ctx.ownerId).eq('period', period))
      .unique();
    return { tier: user.tier, billing: user.billing, period: toBillingPeriod(ctx.ownerId, period, row) };
  },
});

/** The owner's audit log, newest first. */
export const audit = ownerQuery({
  args: { paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(auditEntryOut),
  handler: async (ctx, { paginationOpts }) => {
    const page = await ctx.db
      .query('auditLog')
      .withIndex('by_ownerId_seq', (q) => q.eq('ownerId', ctx.ownerId))
      .order('desc')
      .paginate(paginationOpts);
    return { ...page, page: page.page.map(toAuditEntry) };
  },
});
