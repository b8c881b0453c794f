import { v } from 'convex/values';
import type { QueryCtx } from './_generated/server.js';
import { serviceMutation, serviceQuery } from './functions.js';
import { auditNote, insertAuditNote, iso, ownedAgent } from './model.js';
import type { SecretMetadataDoc } from './schema.js';

// Secret metadata: that a secret was set, under which name and at which version. The value
// goes to the runtime provider and nowhere else (architecture.md, Invariants); no table or
// argument here has room for it. A deleted secret stays as a tombstone so versions only grow.

const secretMetadataOut = v.object({
  agentId: v.string(),
  name: v.string(),
  version: v.number(),
  updatedAt: v.string(),
});
const toSecretMetadata = (d: SecretMetadataDoc) => ({
  agentId: d.agentId,
  name: d.name,
  version: d.version,
  updatedAt: iso(d.updatedAt),
});

const byName = (db: QueryCtx['db'], agentId: string, name: string) =>
  db
    .query('secretMetadata')
    .withIndex('by_agentId_name', (q) => q.eq('agentId', agentId).eq('name', name))
    .unique();

/** The latest version, set or deleted; 0 when never set. */
export const version = serviceQuery({
  args: { ownerId: v.string(), agentId: v.string(), name: v.string() },
  returns: v.number(),
  handler: async (ctx, { ownerId, agentId, name }) => {
    await ownedAgent(ctx.db, ownerId, agentId);
    return (await byName(ctx.db, agentId, name))?.version ?? 0;
  },
});

/** Records a change the provider applied; an older version than the one recorded changes nothing. */
export const record = serviceMutation({
  args: {
    ownerId: v.string(),
    agentId: v.string(),
    name: v.string(),
    version: v.number(),
    deleted: v.boolean(),
    now: v.number(),
    audit: v.optional(auditNote),
  },
  returns: secretMetadataOut,
  handler: async (ctx, { ownerId, agentId, name, version, deleted, now, audit }) => {
    await ownedAgent(ctx.db, ownerId, agentId);
    const existing = await byName(ctx.db, agentId, name);
    const next = { version, updatedAt: now, deletedAt: deleted ? now : null };
    if (existing === null) {
      const created: SecretMetadataDoc = { ownerId, agentId, name, ...next };
      await ctx.db.insert('secretMetadata', created);
      await insertAuditNote(ctx.db, ownerId, audit, now);
      return toSecretMetadata(created);
    }
    if (existing.version >= version) return toSecretMetadata(existing);
    await ctx.db.patch(existing._id, next);
    await insertAuditNote(ctx.db, ownerId, audit, now);
    return toSecretMetadata({ ...existing, ...next });
  },
});

/** The secrets that are set, by name. */
export const list = serviceQuery({
  args: { ownerId: v.string(), agentId: v.string() },
  returns: v.array(secretMetadataOut),
  handler: async (ctx, { ownerId, agentId }) => {
    await ownedAgent(ctx.db, ownerId, agentId);
    const rows = await ctx.db
      .query('secretMetadata')
      .withIndex('by_agentId_name', (q) => q.eq('agentId', agentId))
      .collect();
    return rows.filter((r) => !r.deletedAt).map(toSecretMetadata);
  },
});

/** Marks every secret of the agent deleted (its teardown), also when the agent is deleted. */
export const forget = serviceMutation({
  args: { ownerId: v.string(), agentId: v.string(), now: v.number() },
  returns: v.number(),
  handler: async (ctx, { ownerId, agentId, now }) => {
    const rows = await ctx.db
      .query('secretMetadata')
      .withIndex('by_agentId_name', (q) => q.eq('agentId', agentId))
      .collect();
    const live = rows.filter((r) => r.ownerId === ownerId && !r.deletedAt);
    for (const r of live) await ctx.db.patch(r._id, { deletedAt: now, updatedAt: now });
    return live.length;
  },
});
