import { v } from 'convex/values';
import { internal } from './_generated/api.js';
import { internalMutation, serviceQuery } from './functions.js';
import { changeKind } from './schema.js';

// Live updates for other processes: every mutation that changes an agent or a deployment
// records a row in `changes` (model.ts `recordChange`), and `ConvexStore` subscribes to the
// newest rows. A subscription answers the latest result, not each commit, so watchers diff
// one window against the previous one (lib/store/convex/changes.ts `followChanges`).

/** How many of the newest changes one result holds: more between two results is a gap. */
export const CHANGE_WINDOW = 100;
/** Watchers look at the last few seconds; a day is ample, and keeps the table small. */
const KEEP_CHANGES_MS = 24 * 3_600_000;
const PRUNE_BATCH = 1000;

const changeOut = v.object({ changeId: v.string(), ownerId: v.string(), kind: changeKind, id: v.string() });

/** The newest changes, newest first; `servingOnly` keeps those that changed what serves an agent. */
export const recent = serviceQuery({
  args: { servingOnly: v.boolean() },
  returns: v.array(changeOut),
  handler: async (ctx, { servingOnly }) => {
    const rows = servingOnly
      ? await ctx.db
          .query('changes')
          .withIndex('by_serving', (q) => q.eq('serving', true))
          .order('desc')
          .take(CHANGE_WINDOW)
      : await ctx.db.query('changes').order('desc').take(CHANGE_WINDOW);
    return rows.map((c) => ({ changeId: c._id, ownerId: c.ownerId, kind: c.kind, id: c.id }));
  },
});

/** Deletes changes older than a day, a batch at a time, going on in a new transaction while there are more. */
export const prune = internalMutation({
  args: {},
  returns: v.null(),
  handler: async (ctx) => {
    const old = await ctx.db
      .query('changes')
      .withIndex('by_creation_time', (q) => q.lt('_creationTime', Date.now() - KEEP_CHANGES_MS))
      .take(PRUNE_BATCH);
    for (const change of old) await ctx.db.delete(change._id);
    if (old.length === PRUNE_BATCH) await ctx.scheduler.runAfter(0, internal.watch.prune, {});
    return null;
  },
});
