import { v } from 'convex/values';
import { serviceMutation, serviceQuery } from './functions.js';
import { auditEntryOut, insertAudit, toAuditEntry } from './model.js';

/** Appends to an owner's audit log (`insertAudit`: numbered in order, never repeating). */
export const append = serviceMutation({
  args: {
    ownerId: v.string(),
    actor: v.string(),
    action: v.string(),
    targetType: v.string(),
    targetId: v.string(),
    details: v.nullable(v.string()),
    now: v.number(),
  },
  returns: v.null(),
  handler: async (ctx, { now, ...entry }) => {
    await insertAudit(ctx.db, { ...entry, at: now });
    return null;
  },
});

/** Newest first; `before` is the number the previous page ended at. */
export const list = serviceQuery({
  args: { ownerId: v.string(), limit: v.number(), before: v.optional(v.number()) },
  returns: v.object({ items: v.array(auditEntryOut), next: v.nullable(v.number()) }),
  handler: async (ctx, { ownerId, limit, before }) => {
    const rows = await ctx.db
      .query('auditLog')
      .withIndex('by_ownerId_seq', (q) =>
        before === undefined ? q.eq('ownerId', ownerId) : q.eq('ownerId', ownerId).lt('seq', before),
      )
      .order('desc')
      .take(limit + 1);
    const items = rows.slice(0, limit);
    return { items: items.map(toAuditEntry), next: rows.length > limit ? items.at(-1)!.seq : null };
  },
});
