import { v } from 'convex/values';
import { fail, serviceMutation, serviceQuery } from './functions.js';
import { iso, ownedAgent } from './model.js';
import type { SecretMetadataDoc } from './schema.js';

// Secret metadata: that a secret was set, under which name and how often. The value goes to
// the runtime provider and nowhere else (architecture.md, Invariants); no table or argument here has room for it.

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

/** Records that a secret was set: creates it at version 1 or bumps its version. */
export const put = serviceMutation({
  args: { ownerId: v.string(), agentId: v.string(), name: v.string(), now: v.number() },
  returns: secretMetadataOut,
  handler: async (ctx, { ownerId, agentId, name, now }) => {
    await ownedAgent(ctx.db, ownerId, agentId);
    const existing = await ctx.db
      .query('secretMetadata')
      .withIndex('by_agentId_name', (q) => q.eq('agentId', agentId).eq('name', name))
      .unique();
    if (existing === null) {
      const created: SecretMetadataDoc = { ownerId, agentId, name, version: 1, updatedAt: now };
      await ctx.db.insert('secretMetadata', created);
      return toSecretMetadata(created);
    }
    const bumped = { version: existing.version + 1, updatedAt: now };
    await ctx.db.patch(existing._id, bumped);
    return toSecretMetadata({ ...existing, ...bumped });
  },
});

/** By name. */
export const list = serviceQuery({
  args: { ownerId: v.string(), agentId: v.string() },
  returns: v.array(secretMetadataOut),
  handler: async (ctx, { ownerId, agentId }) => {
    await ownedAgent(ctx.db, ownerId, agentId);
    const rows = await ctx.db
      .query('secretMetadata')
      .withIndex('by_agentId_name', (q) => q.eq('agentId', agentId))
      .collect();
    return rows.map(toSecretMetadata);
  },
});

export const remove = serviceMutation({
  args: { ownerId: v.string(), agentId: v.string(), name: v.string() },
  returns: v.null(),
  handler: async (ctx, { ownerId, agentId, name }) => {
    await ownedAgent(ctx.db, ownerId, agentId);
    const existing = await ctx.db
      .query('secretMetadata')
      .withIndex('by_agentId_name', (q) => q.eq('agentId', agentId).eq('name', name))
      .unique();
    if (existing === null) fail('not_found', 'secret not found');
    await ctx.db.delete(existing._id);
    return null;
  },
});
