import { v } from 'convex/values';
import type { QueryCtx } from './_generated/server.js';
import { fail, serviceMutation, serviceQuery } from './functions.js';
import {
  addTotals,
  estimateCostUsd,
  periodBounds,
  zeroTotals,
  type Runtime,
  type UsageTotals,
} from '../lib/contracts/index.js';
import { billingPeriodOut, findUser, toBillingPeriod, totalsOut } from './model.js';

const periodRow = (db: QueryCtx['db'], ownerId: string, period: string) =>
  db
    .query('billingPeriods')
    .withIndex('by_ownerId_period', (q) => q.eq('ownerId', ownerId).eq('period', period))
    .unique();

export const getPeriod = serviceQuery({
  args: { ownerId: v.string(), period: v.string() },
  returns: billingPeriodOut,
  handler: async (ctx, { ownerId, period }) =>
    toBillingPeriod(ownerId, period, await periodRow(ctx.db, ownerId, period)),
});

/** Freezes the period's totals from its hourly metrics, priced per runtime; closing a closed period changes nothing. */
export const closePeriod = serviceMutation({
  args: { ownerId: v.string(), period: v.string(), now: v.number() },
  returns: v.object({ period: billingPeriodOut, closedNow: v.boolean() }),
  handler: async (ctx, { ownerId, period, now }) => {
    if ((await findUser(ctx.db, ownerId)) === null) fail('not_found', 'user not found');
    const existing = await periodRow(ctx.db, ownerId, period);
    if (existing?.status === 'closed') return { period: toBillingPeriod(ownerId, period, existing), closedNow: false };
    const { start, end } = periodBounds(period);
    const byRuntime = new Map<Runtime, UsageTotals>();
    for (const row of await ctx.db
      .query('hourlyMetrics')
      .withIndex('by_ownerId_hour', (q) =>
        q.eq('ownerId', ownerId).gte('hour', start.getTime()).lt('hour', end.getTime()),
      )
      .collect()) {
      if (!byRuntime.has(row.runtime)) byRuntime.set(row.runtime, zeroTotals());
      addTotals(byRuntime.get(row.runtime)!, totalsOut(row));
    }
    const totals = zeroTotals();
    let cost = 0;
    for (const [runtime, t] of byRuntime) {
      addTotals(totals, t);
      cost += estimateCostUsd(runtime, t);
    }
    const closed = {
      ownerId,
      period,
      status: 'closed' as const,
      totals,
      costUsd: Math.round(cost * 1e4) / 1e4,
      usageReportId: null,
      closedAt: now,
      reportedAt: null,
    };
    if (existing) await ctx.db.patch(existing._id, closed);
    else await ctx.db.insert('billingPeriods', closed);
    return { period: toBillingPeriod(ownerId, period, closed), closedNow: true };
  },
});

/** Records the usage report of a closed period once; true only for the call that recorded it. */
export const recordUsageReport = serviceMutation({
  args: { ownerId: v.string(), period: v.string(), reportId: v.string(), now: v.number() },
  returns: v.boolean(),
  handler: async (ctx, { ownerId, period, reportId, now }) => {
    const row = await periodRow(ctx.db, ownerId, period);
    if (row?.status !== 'closed') fail('conflict', `billing period ${period} is not closed`);
    if (row.usageReportId !== null) return false;
    await ctx.db.patch(row._id, { usageReportId: reportId, reportedAt: now });
    return true;
  },
});

/** Users one page of `listBillableOwners` looks at, per owner it may return: keeps a page's reads bounded. */
const BILLABLE_SCAN_FACTOR = 4;

/**
 * The owners a period's close visits (usage in the period, or a subscription item), in
 * ascending owner id after `after`. Looks at no more than `BILLABLE_SCAN_FACTOR × limit` users,
 * so a page may come back short, even empty, with `next` set: the caller pages on until null.
 */
export const listBillableOwners = serviceQuery({
  args: { period: v.string(), after: v.nullable(v.string()), limit: v.number() },
  returns: v.object({
    owners: v.array(v.object({ ownerId: v.string(), subscriptionItemId: v.nullable(v.string()) })),
    next: v.nullable(v.string()),
  }),
  handler: async (ctx, { period, after, limit }) => {
    const owners: { ownerId: string; subscriptionItemId: string | null }[] = [];
    const users = ctx.db
      .query('users')
      .withIndex('by_userId', (q) => (after === null ? q : q.gt('userId', after)))
      .order('asc');
    let scanned = 0;
    let last: string | null = null;
    for await (const user of users) {
      last = user.userId;
      scanned += 1;
      const subscriptionItemId = user.billing.subscriptionItemId;
      const used =
        subscriptionItemId !== null ||
        (await ctx.db
          .query('usage')
          .withIndex('by_ownerId_period_runtime', (q) => q.eq('ownerId', user.userId).eq('period', period))
          .first()) !== null;
      if (used) owners.push({ ownerId: user.userId, subscriptionItemId });
      if (owners.length === limit || scanned === limit * BILLABLE_SCAN_FACTOR) return { owners, next: last };
    }
    return { owners, next: null };
  },
});

/** True the first time a provider's event id is seen, false for every redelivery. */
export const recordWebhookEvent = serviceMutation({
  args: { provider: v.string(), eventId: v.string(), eventName: v.string(), now: v.number() },
  returns: v.boolean(),
  handler: async (ctx, { provider, eventId, eventName, now }) => {
    const seen = await ctx.db
      .query('webhookEvents')
      .withIndex('by_provider_eventId', (q) => q.eq('provider', provider).eq('eventId', eventId))
      .first();
    if (seen) return false;
    await ctx.db.insert('webhookEvents', { provider, eventId, eventName, receivedAt: now });
    return true;
  },
});
