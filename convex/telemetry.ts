import { v } from 'convex/values';
import { periodOf } from '../lib/contracts/index.js';
import { fail, serviceMutation, serviceQuery } from './functions.js';
import { findUser, iso, ownedAgent, periodUsageOut, toPeriodUsage } from './model.js';
import { tier, usageTotals, type TelemetryEventDoc, type UsageTotalsDoc } from './schema.js';

const HOUR_MS = 3_600_000;
const zero = (): UsageTotalsDoc => ({ requests: 0, errors: 0, durationMs: 0, inputBytes: 0, outputBytes: 0 });
const add = (into: UsageTotalsDoc, e: Pick<TelemetryEventDoc, 'ok' | 'durationMs' | 'inputBytes' | 'outputBytes'>) => {
  into.requests += 1;
  into.errors += e.ok ? 0 : 1;
  into.durationMs += e.durationMs;
  into.inputBytes += e.inputBytes;
  into.outputBytes += e.outputBytes;
};
function totalsOf<K>(totals: Map<K, UsageTotalsDoc>, key: K): UsageTotalsDoc {
  const found = totals.get(key);
  if (found) return found;
  const created = zero();
  totals.set(key, created);
  return created;
}
const sum = (a: UsageTotalsDoc, b: UsageTotalsDoc): UsageTotalsDoc => ({
  requests: a.requests + b.requests,
  errors: a.errors + b.errors,
  durationMs: a.durationMs + b.durationMs,
  inputBytes: a.inputBytes + b.inputBytes,
  outputBytes: a.outputBytes + b.outputBytes,
});

/**
 * Stores a batch of a deployment's events and adds each new one, once, to the agent's hourly
 * metrics and the owner's usage for the event's period and the deployment's runtime, in one
 * transaction. An event id already stored is a duplicate and changes nothing; concurrent
 * redeliveries conflict on the same rows and Convex retries the loser, which then sees them.
 */
export const ingest = serviceMutation({
  args: {
    ownerId: v.string(),
    agentId: v.string(),
    deploymentId: v.string(),
    events: v.array(
      v.object({
        id: v.string(),
        at: v.number(),
        kind: v.literal('request'),
        ok: v.boolean(),
        durationMs: v.number(),
        inputBytes: v.number(),
        outputBytes: v.number(),
      }),
    ),
  },
  returns: v.object({ accepted: v.number(), duplicates: v.number() }),
  handler: async (ctx, { ownerId, agentId, deploymentId, events }) => {
    const deployment = await ctx.db
      .query('deployments')
      .withIndex('by_deploymentId', (q) => q.eq('deploymentId', deploymentId))
      .unique();
    if (deployment === null || deployment.ownerId !== ownerId || deployment.agentId !== agentId)
      fail('not_found', 'deployment not found');
    const hours = new Map<number, UsageTotalsDoc>();
    const periods = new Map<string, UsageTotalsDoc>();
    let accepted = 0;
    let oldest = Infinity;
    for (const { id: eventId, ...e } of events) {
      if (
        await ctx.db
          .query('telemetryEvents')
          .withIndex('by_deploymentId_eventId', (q) => q.eq('deploymentId', deploymentId).eq('eventId', eventId))
          .first()
      )
        continue;
      await ctx.db.insert('telemetryEvents', { eventId, ownerId, agentId, deploymentId, ...e });
      const hour = Math.floor(e.at / HOUR_MS) * HOUR_MS;
      const period = periodOf(new Date(e.at));
      add(totalsOf(hours, hour), e);
      add(totalsOf(periods, period), e);
      oldest = Math.min(oldest, e.at);
      accepted++;
    }
    for (const [hour, totals] of hours) {
      const row = await ctx.db
        .query('hourlyMetrics')
        .withIndex('by_agentId_hour', (q) => q.eq('agentId', agentId).eq('hour', hour))
        .unique();
      if (row) await ctx.db.patch(row._id, sum(row, totals));
      else await ctx.db.insert('hourlyMetrics', { ownerId, agentId, hour, ...totals });
    }
    for (const [period, totals] of periods) {
      const runtime = deployment.runtime;
      const row = await ctx.db
        .query('usage')
        .withIndex('by_ownerId_period_runtime', (q) =>
          q.eq('ownerId', ownerId).eq('period', period).eq('runtime', runtime),
        )
        .unique();
      if (row) await ctx.db.patch(row._id, sum(row, totals));
      else await ctx.db.insert('usage', { ownerId, period, runtime, ...totals });
    }
    const user = await findUser(ctx.db, ownerId);
    if (user && accepted > 0 && (user.telemetryFrom === null || oldest < user.telemetryFrom))
      await ctx.db.patch(user._id, { telemetryFrom: oldest });
    return { accepted, duplicates: events.length - accepted };
  },
});

const storedEventOut = v.object({
  id: v.string(),
  agentId: v.string(),
  deploymentId: v.string(),
  at: v.string(),
  kind: v.literal('request'),
  ok: v.boolean(),
  durationMs: v.number(),
  inputBytes: v.number(),
  outputBytes: v.number(),
});
const toStoredEvent = (d: TelemetryEventDoc) => ({
  id: d.eventId,
  agentId: d.agentId,
  deploymentId: d.deploymentId,
  at: iso(d.at),
  kind: d.kind,
  ok: d.ok,
  durationMs: d.durationMs,
  inputBytes: d.inputBytes,
  outputBytes: d.outputBytes,
});
const eventKey = v.object({ at: v.number(), eventId: v.string() });

/** Newest first, by time then event id; `before` is the key the previous page ended at. */
export const listEvents = serviceQuery({
  args: { ownerId: v.string(), agentId: v.string(), limit: v.number(), before: v.optional(eventKey) },
  returns: v.object({ items: v.array(storedEventOut), next: v.nullable(eventKey) }),
  handler: async (ctx, { ownerId, agentId, limit, before }) => {
    await ownedAgent(ctx.db, ownerId, agentId);
    const rows: TelemetryEventDoc[] = [];
    // A key of two fields is two ranges: the rest of `before`'s instant, then earlier instants.
    if (before) {
      rows.push(
        ...(await ctx.db
          .query('telemetryEvents')
          .withIndex('by_agentId_at_eventId', (q) =>
            q.eq('agentId', agentId).eq('at', before.at).lt('eventId', before.eventId),
          )
          .order('desc')
          .take(limit + 1)),
      );
    }
    if (rows.length <= limit) {
      rows.push(
        ...(await ctx.db
          .query('telemetryEvents')
          .withIndex('by_agentId_at_eventId', (q) =>
            before ? q.eq('agentId', agentId).lt('at', before.at) : q.eq('agentId', agentId),
          )
          .order('desc')
          .take(limit + 1 - rows.length)),
      );
    }
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return {
      items: items.map(toStoredEvent),
      next: rows.length > limit && last ? { at: last.at, eventId: last.eventId } : null,
    };
  },
});

/** Hourly metrics of an agent for hours starting in [from, to), oldest first. */
export const hourly = serviceQuery({
  args: { ownerId: v.string(), agentId: v.string(), from: v.number(), to: v.number() },
  returns: v.array(v.object({ agentId: v.string(), hour: v.string(), ...usageTotals })),
  handler: async (ctx, { ownerId, agentId, from, to }) => {
    await ownedAgent(ctx.db, ownerId, agentId);
    const rows = await ctx.db
      .query('hourlyMetrics')
      .withIndex('by_agentId_hour', (q) => q.eq('agentId', agentId).gte('hour', from).lt('hour', to))
      .collect();
    return rows.map((r) => ({
      agentId: r.agentId,
      hour: iso(r.hour),
      requests: r.requests,
      errors: r.errors,
      durationMs: r.durationMs,
      inputBytes: r.inputBytes,
      outputBytes: r.outputBytes,
    }));
  },
});

/** One row per runtime used in the period. */
export const usage = serviceQuery({
  args: { ownerId: v.string(), period: v.string() },
  returns: v.array(periodUsageOut),
  handler: async (ctx, { ownerId, period }) =>
    (
      await ctx.db
        .query('usage')
        .withIndex('by_ownerId_period_runtime', (q) => q.eq('ownerId', ownerId).eq('period', period))
        .collect()
    ).map(toPeriodUsage),
});

/**
 * Retention: deletes at most `limit` raw events, of owners on `tier`, that happened before
 * `cutoff`; aggregates are kept. Owners are found by when their oldest kept event happened,
 * so a batch reads only owners that have something to delete.
 */
export const deleteBefore = serviceMutation({
  args: { tier, cutoff: v.number(), limit: v.number() },
  returns: v.object({ deleted: v.number() }),
  handler: async (ctx, { tier, cutoff, limit }) => {
    const owners = await ctx.db
      .query('users')
      .withIndex('by_tier_telemetryFrom', (q) =>
        q.eq('tier', tier).gt('telemetryFrom', null).lt('telemetryFrom', cutoff),
      )
      .take(limit);
    let deleted = 0;
    for (const owner of owners) {
      if (deleted === limit) break;
      const old = await ctx.db
        .query('telemetryEvents')
        .withIndex('by_ownerId_at', (q) => q.eq('ownerId', owner.userId).lt('at', cutoff))
        .take(limit - deleted);
      for (const event of old) await ctx.db.delete(event._id);
      deleted += old.length;
      const oldestLeft = await ctx.db
        .query('telemetryEvents')
        .withIndex('by_ownerId_at', (q) => q.eq('ownerId', owner.userId))
        .first();
      await ctx.db.patch(owner._id, { telemetryFrom: oldestLeft?.at ?? null });
    }
    return { deleted };
  },
});
