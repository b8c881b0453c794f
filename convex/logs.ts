import { v } from 'convex/values';
import { droppedLineId, droppedMessage, LOGS_PER_AGENT_MAX } from '../lib/contracts/index.js';
import { fail, serviceMutation, serviceQuery } from './functions.js';
import { deleteOwnedRowsBefore, findUser, iso, ownedAgent } from './model.js';
import { logLevel, tier, type LogLineDoc } from './schema.js';

// Log lines per agent (lib/store/port/logs.ts): the same semantics as lib/store/sql/logs.ts.
// A mutation is serializable, so an agent's appends take seqs in commit order.

const lineOut = v.object({
  seq: v.number(),
  id: v.string(),
  deploymentId: v.string(),
  at: v.string(),
  level: logLevel,
  message: v.string(),
  requestId: v.nullable(v.string()),
  sessionId: v.nullable(v.string()),
  dropped: v.number(),
});
const toLine = (d: LogLineDoc) => ({
  seq: d.seq,
  id: d.lineId,
  deploymentId: d.deploymentId,
  at: iso(d.at),
  level: d.level,
  message: d.message,
  requestId: d.requestId,
  sessionId: d.sessionId,
  dropped: d.dropped,
});

/** A deployment's lines, once the deployment is the agent's and the owner's; each line id once. */
export const append = serviceMutation({
  args: {
    ownerId: v.string(),
    agentId: v.string(),
    deploymentId: v.string(),
    lines: v.array(
      v.object({
        id: v.string(),
        at: v.number(),
        level: logLevel,
        message: v.string(),
        requestId: v.optional(v.string()),
        sessionId: v.optional(v.string()),
      }),
    ),
    dropped: v.number(),
  },
  returns: v.object({ accepted: v.number(), duplicates: v.number() }),
  handler: async (ctx, { ownerId, agentId, deploymentId, lines, dropped }) => {
    const deployment = await ctx.db
      .query('deployments')
      .withIndex('by_deploymentId', (q) => q.eq('deploymentId', deploymentId))
      .unique();
    if (deployment === null || deployment.ownerId !== ownerId || deployment.agentId !== agentId)
      fail('not_found', 'deployment not found');
    const rows = lines.map((l) => ({
      lineId: l.id,
      at: l.at,
      level: l.level,
      message: l.message,
      requestId: l.requestId ?? null,
      sessionId: l.sessionId ?? null,
      dropped: 0,
    }));
    const first = lines[0];
    if (dropped > 0 && first) {
      rows.unshift({
        lineId: droppedLineId(first.id),
        at: first.at,
        level: 'warn',
        message: droppedMessage(dropped),
        requestId: null,
        sessionId: null,
        dropped,
      });
    }
    const counter = await ctx.db
      .query('logCounters')
      .withIndex('by_agentId', (q) => q.eq('agentId', agentId))
      .unique();
    let seq = counter?.seq ?? 0;
    let accepted = 0;
    let oldest = Infinity;
    for (const row of rows) {
      const known = await ctx.db
        .query('logLines')
        .withIndex('by_deploymentId_lineId', (q) => q.eq('deploymentId', deploymentId).eq('lineId', row.lineId))
        .unique();
      if (known !== null) continue;
      seq += 1;
      accepted += 1;
      oldest = Math.min(oldest, row.at);
      await ctx.db.insert('logLines', { ...row, ownerId, agentId, deploymentId, seq });
    }
    if (accepted > 0) {
      if (counter) await ctx.db.patch(counter._id, { seq });
      else await ctx.db.insert('logCounters', { agentId, seq });
      const over = await ctx.db
        .query('logLines')
        .withIndex('by_agentId_seq', (q) => q.eq('agentId', agentId).lte('seq', seq - LOGS_PER_AGENT_MAX))
        .take(LOGS_PER_AGENT_MAX);
      for (const line of over) await ctx.db.delete(line._id);
      const user = await findUser(ctx.db, ownerId);
      if (user && (user.logsFrom === undefined || user.logsFrom === null || oldest < user.logsFrom))
        await ctx.db.patch(user._id, { logsFrom: oldest });
    }
    return { accepted, duplicates: rows.length - accepted };
  },
});

/** Newest first, by seq; `before` is the seq the previous page ended at. */
export const list = serviceQuery({
  args: { ownerId: v.string(), agentId: v.string(), limit: v.number(), before: v.optional(v.number()) },
  returns: v.object({ items: v.array(lineOut), next: v.nullable(v.number()) }),
  handler: async (ctx, { ownerId, agentId, limit, before }) => {
    await ownedAgent(ctx.db, ownerId, agentId);
    const rows = await ctx.db
      .query('logLines')
      .withIndex('by_agentId_seq', (q) =>
        before === undefined ? q.eq('agentId', agentId) : q.eq('agentId', agentId).lt('seq', before),
      )
      .order('desc')
      .take(limit + 1);
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return { items: items.map(toLine), next: rows.length > limit && last ? last.seq : null };
  },
});

/** Oldest first, the lines after seq `after`, at most `limit`. */
export const listAfter = serviceQuery({
  args: { ownerId: v.string(), agentId: v.string(), after: v.number(), limit: v.number() },
  returns: v.array(lineOut),
  handler: async (ctx, { ownerId, agentId, after, limit }) => {
    await ownedAgent(ctx.db, ownerId, agentId);
    const rows = await ctx.db
      .query('logLines')
      .withIndex('by_agentId_seq', (q) => q.eq('agentId', agentId).gt('seq', after))
      .take(limit);
    return rows.map(toLine);
  },
});

/**
 * Retention: deletes at most `limit` lines, of owners on `tier`, written before `cutoff`.
 * Owners are found by their oldest kept line, so a batch reads only owners with something to delete.
 */
export const deleteBefore = serviceMutation({
  args: { tier, cutoff: v.number(), limit: v.number() },
  returns: v.object({ deleted: v.number() }),
  handler: async (ctx, { tier, cutoff, limit }) => {
    const owners = await ctx.db
      .query('users')
      .withIndex('by_tier_logsFrom', (q) => q.eq('tier', tier).gt('logsFrom', null).lt('logsFrom', cutoff))
      .take(limit);
    return deleteOwnedRowsBefore(ctx, 'logLines', owners, {
      cutoff,
      limit,
      setFrom: (owner, oldestLeft) => ctx.db.patch(owner._id, { logsFrom: oldestLeft }),
    });
  },
});
