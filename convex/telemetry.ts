import { v } from 'convex/values';
import { addTotals, periodBounds, periodOf, totalsOfEvent, zeroTotals } from '../lib/contracts/index.js';
import type { MutationCtx } from './_generated/server.js';
import { fail, serviceMutation, serviceQuery } from './functions.js';
import { deleteOwnedRowsBefore, findUser, iso, ownedAgent, periodUsageOut, toPeriodUsage, totalsOut } from './model.js';
import {
  eventKind,
  runtime,
  tier,
  usageTotals,
  type EndUserUsageDoc,
  type TelemetryEventDoc,
  type UsageTotalsDoc,
} from './schema.js';

const HOUR_MS = 3_600_000;

type NewEvent = Omit<TelemetryEventDoc, 'eventId'> & { id: string };

/**
 * Stores events and adds each new one, once, to the agent's hourly metrics, the owner's usage
 * for the event's period and runtime, and the owner's usage per end user — in the calling
 * mutation's transaction, each quantity from its one source (lib/contracts/usage.ts,
 * `totalsOfEvent`). An event id already stored for the deployment is a duplicate and changes
 * nothing; concurrent redeliveries conflict on the same rows and Convex retries the loser,
 * which then sees them.
 */
async function ingestEvents(ctx: MutationCtx, events: NewEvent[]): Promise<{ accepted: number; duplicates: number }> {
  const hours = new Map<
    string,
    { ownerId: string; agentId: string; runtime: NewEvent['runtime']; hour: number; t: UsageTotalsDoc }
  >();
  const periods = new Map<
    string,
    { ownerId: string; period: string; runtime: NewEvent['runtime']; t: UsageTotalsDoc }
  >();
  const endUsers = new Map<string, { ownerId: string; period: string; endUser: string; t: UsageTotalsDoc }>();
  const oldestOf = new Map<string, number>();
  let accepted = 0;
  for (const { id: eventId, ...e } of events) {
    if (
      await ctx.db
        .query('telemetryEvents')
        .withIndex('by_deploymentId_eventId', (q) => q.eq('deploymentId', e.deploymentId).eq('eventId', eventId))
        .first()
    )
      continue;
    await ctx.db.insert('telemetryEvents', { eventId, ...e });
    const adds = totalsOfEvent(e);
    const hour = Math.floor(e.at / HOUR_MS) * HOUR_MS;
    const period = periodOf(new Date(e.at));
    const hk = `${e.agentId}/${hour}/${e.runtime}`;
    if (!hours.has(hk))
      hours.set(hk, { ownerId: e.ownerId, agentId: e.agentId, runtime: e.runtime, hour, t: zeroTotals() });
    addTotals(hours.get(hk)!.t, adds);
    const pk = `${e.ownerId}/${period}/${e.runtime}`;
    if (!periods.has(pk)) periods.set(pk, { ownerId: e.ownerId, period, runtime: e.runtime, t: zeroTotals() });
    addTotals(periods.get(pk)!.t, adds);
    if (e.endUser !== null) {
      const ek = `${e.ownerId}/${period}/${e.endUser}`;
      if (!endUsers.has(ek)) endUsers.set(ek, { ownerId: e.ownerId, period, endUser: e.endUser, t: zeroTotals() });
      addTotals(endUsers.get(ek)!.t, adds);
    }
    oldestOf.set(e.ownerId, Math.min(oldestOf.get(e.ownerId) ?? Infinity, e.at));
    accepted++;
  }
  for (const { ownerId, agentId, runtime, hour, t } of hours.values()) {
    const row = await ctx.db
      .query('hourlyMetrics')
      .withIndex('by_agentId_hour_runtime', (q) => q.eq('agentId', agentId).eq('hour', hour).eq('runtime', runtime))
      .unique();
    if (row) await ctx.db.patch(row._id, addTotals(totalsOut(row), t));
    else await ctx.db.insert('hourlyMetrics', { ownerId, agentId, runtime, hour, ...t });
  }
  for (const { ownerId, period, runtime, t } of periods.values()) {
    const row = await ctx.db
      .query('usage')
      .withIndex('by_ownerId_period_runtime', (q) =>
        q.eq('ownerId', ownerId).eq('period', period).eq('runtime', runtime),
      )
      .unique();
    if (row) await ctx.db.patch(row._id, addTotals(totalsOut(row), t));
    else await ctx.db.insert('usage', { ownerId, period, runtime, ...t });
  }
  for (const { ownerId, period, endUser, t } of endUsers.values()) {
    const adds = { requests: t.requests, errors: t.errors, inputTokens: t.inputTokens, outputTokens: t.outputTokens };
    const row = await ctx.db
      .query('endUserUsage')
      .withIndex('by_ownerId_period_endUser', (q) =>
        q.eq('ownerId', ownerId).eq('period', period).eq('endUser', endUser),
      )
      .unique();
    if (row)
      await ctx.db.patch(row._id, {
        requests: row.requests + adds.requests,
        errors: row.errors + adds.errors,
        inputTokens: row.inputTokens + adds.inputTokens,
        outputTokens: row.outputTokens + adds.outputTokens,
      });
    else await ctx.db.insert('endUserUsage', { ownerId, period, endUser, ...adds });
  }
  for (const [ownerId, oldest] of oldestOf) {
    const user = await findUser(ctx.db, ownerId);
    if (user && (user.telemetryFrom === null || oldest < user.telemetryFrom))
      await ctx.db.patch(user._id, { telemetryFrom: oldest });
  }
  return { accepted, duplicates: events.length - accepted };
}

const ingestResult = v.object({ accepted: v.number(), duplicates: v.number() });

/** The gateway's metered requests, from any owners. */
export const recordRequests = serviceMutation({
  args: {
    events: v.array(
      v.object({
        id: v.string(),
        at: v.number(),
        ownerId: v.string(),
        agentId: v.string(),
        deploymentId: v.string(),
        runtime,
        status: v.number(),
        durationMs: v.number(),
        inputBytes: v.number(),
        outputBytes: v.number(),
        inputTokens: v.number(),
        outputTokens: v.number(),
        sessionId: v.nullable(v.string()),
        endUser: v.nullable(v.string()),
        apiKeyId: v.nullable(v.string()),
      }),
    ),
  },
  returns: ingestResult,
  handler: (ctx, { events }) =>
    ingestEvents(
      ctx,
      events.map((e) => ({ ...e, kind: 'request' as const, ok: e.status < 400, computeMs: 0 })),
    ),
});

/** A deployment's signed telemetry batch, once the deployment is the agent's and the owner's. */
export const ingest = serviceMutation({
  args: {
    ownerId: v.string(),
    agentId: v.string(),
    deploymentId: v.string(),
    events: v.array(
      v.object({
        id: v.string(),
        at: v.number(),
        kind: eventKind,
        ok: v.boolean(),
        computeMs: v.number(),
        inputTokens: v.optional(v.number()),
        outputTokens: v.optional(v.number()),
        requestId: v.optional(v.string()),
      }),
    ),
  },
  returns: ingestResult,
  handler: async (ctx, { ownerId, agentId, deploymentId, events }) => {
    const deployment = await ctx.db
      .query('deployments')
      .withIndex('by_deploymentId', (q) => q.eq('deploymentId', deploymentId))
      .unique();
    if (deployment === null || deployment.ownerId !== ownerId || deployment.agentId !== agentId)
      fail('not_found', 'deployment not found');
    return ingestEvents(
      ctx,
      events.map((e) => ({
        id: e.id,
        at: e.at,
        ownerId,
        agentId,
        deploymentId,
        runtime: deployment.runtime,
        kind: e.kind,
        ok: e.ok,
        status: null,
        durationMs: 0,
        computeMs: e.computeMs,
        inputBytes: 0,
        outputBytes: 0,
        inputTokens: e.inputTokens ?? 0,
        outputTokens: e.outputTokens ?? 0,
        sessionId: null,
        endUser: null,
        apiKeyId: null,
      })),
    );
  },
});

const storedEventOut = v.object({
  id: v.string(),
  agentId: v.string(),
  deploymentId: v.string(),
  runtime,
  at: v.string(),
  kind: eventKind,
  ok: v.boolean(),
  status: v.nullable(v.number()),
  durationMs: v.number(),
  computeMs: v.number(),
  inputBytes: v.number(),
  outputBytes: v.number(),
  inputTokens: v.number(),
  outputTokens: v.number(),
  sessionId: v.nullable(v.string()),
  endUser: v.nullable(v.string()),
});
const toStoredEvent = (d: TelemetryEventDoc) => ({
  id: d.eventId,
  agentId: d.agentId,
  deploymentId: d.deploymentId,
  runtime: d.runtime,
  at: iso(d.at),
  kind: d.kind,
  ok: d.ok,
  status: d.status,
  durationMs: d.durationMs,
  computeMs: d.computeMs,
  inputBytes: d.inputBytes,
  outputBytes: d.outputBytes,
  inputTokens: d.inputTokens,
  outputTokens: d.outputTokens,
  sessionId: d.sessionId,
  endUser: d.endUser,
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

/** Hourly metrics of an agent for hours starting in [from, to), oldest first, then by runtime. */
export const hourly = serviceQuery({
  args: { ownerId: v.string(), agentId: v.string(), from: v.number(), to: v.number() },
  returns: v.array(v.object({ agentId: v.string(), runtime, hour: v.string(), ...usageTotals })),
  handler: async (ctx, { ownerId, agentId, from, to }) => {
    await ownedAgent(ctx.db, ownerId, agentId);
    const rows = await ctx.db
      .query('hourlyMetrics')
      .withIndex('by_agentId_hour_runtime', (q) => q.eq('agentId', agentId).gte('hour', from).lt('hour', to))
      .collect();
    return rows.map((r) => ({ agentId: r.agentId, runtime: r.runtime, hour: iso(r.hour), ...totalsOut(r) }));
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

/** The period's totals per agent and runtime, summed from hourly metrics; most requests first. */
export const usageByAgent = serviceQuery({
  args: { ownerId: v.string(), period: v.string() },
  returns: v.array(v.object({ agentId: v.string(), runtime, ...usageTotals })),
  handler: async (ctx, { ownerId, period }) => {
    const { start, end } = periodBounds(period);
    const rows = await ctx.db
      .query('hourlyMetrics')
      .withIndex('by_ownerId_hour', (q) =>
        q.eq('ownerId', ownerId).gte('hour', start.getTime()).lt('hour', end.getTime()),
      )
      .collect();
    const byAgent = new Map<
      string,
      { agentId: string; runtime: (typeof rows)[number]['runtime']; t: UsageTotalsDoc }
    >();
    for (const r of rows) {
      const key = `${r.agentId}/${r.runtime}`;
      if (!byAgent.has(key)) byAgent.set(key, { agentId: r.agentId, runtime: r.runtime, t: zeroTotals() });
      addTotals(byAgent.get(key)!.t, totalsOut(r));
    }
    return [...byAgent.values()]
      .map(({ agentId, runtime, t }) => ({ agentId, runtime, ...t }))
      .sort(
        (a, b) => b.requests - a.requests || a.agentId.localeCompare(b.agentId) || a.runtime.localeCompare(b.runtime),
      );
  },
});

/** The period's end users with the most requests. */
export const usageByEndUser = serviceQuery({
  args: { ownerId: v.string(), period: v.string(), limit: v.number() },
  returns: v.array(
    v.object({
      endUser: v.string(),
      requests: v.number(),
      errors: v.number(),
      inputTokens: v.number(),
      outputTokens: v.number(),
    }),
  ),
  handler: async (ctx, { ownerId, period, limit }) =>
    (
      await ctx.db
        .query('endUserUsage')
        .withIndex('by_ownerId_period_requests', (q) => q.eq('ownerId', ownerId).eq('period', period))
        .order('desc')
        .take(limit)
    ).map((r: EndUserUsageDoc) => ({
      endUser: r.endUser,
      requests: r.requests,
      errors: r.errors,
      inputTokens: r.inputTokens,
      outputTokens: r.outputTokens,
    })),
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
    return deleteOwnedRowsBefore(ctx, 'telemetryEvents', owners, {
      cutoff,
      limit,
      setFrom: (owner, oldestLeft) => ctx.db.patch(owner._id, { telemetryFrom: oldestLeft }),
    });
  },
});
