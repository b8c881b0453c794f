import { v } from 'convex/values';
import { fail, serviceMutation, serviceQuery } from './functions.js';
import { insertAudit, iso, ownedAgent } from './model.js';
import type { ApiKeyDoc } from './schema.js';

// API keys are kept as a hash and a display prefix; the hash is looked up, never returned.
// Creating and revoking append their audit entry in the same mutation (one transaction).

const apiKeyOut = v.object({
  id: v.string(),
  ownerId: v.string(),
  name: v.string(),
  prefix: v.string(),
  agentId: v.nullable(v.string()),
  createdAt: v.string(),
  revokedAt: v.nullable(v.string()),
});
const toApiKey = (d: ApiKeyDoc) => ({
  id: d.keyId,
  ownerId: d.ownerId,
  name: d.name,
  prefix: d.prefix,
  agentId: d.agentId ?? null,
  createdAt: iso(d.createdAt),
  revokedAt: d.revokedAt === null ? null : iso(d.revokedAt),
});

/**
 * `not_found` for an agent that is not the owner's; `conflict` at `maxActive` unrevoked keys
 * (two concurrent creates read the same keys, so Convex retries one of them).
 */
export const create = serviceMutation({
  args: {
    keyId: v.string(),
    ownerId: v.string(),
    name: v.string(),
    prefix: v.string(),
    hash: v.string(),
    agentId: v.nullable(v.string()),
    actor: v.string(),
    maxActive: v.number(),
    now: v.number(),
  },
  returns: apiKeyOut,
  handler: async (ctx, { keyId, ownerId, name, prefix, hash, agentId, actor, maxActive, now }) => {
    if (agentId !== null) await ownedAgent(ctx.db, ownerId, agentId);
    const owned = await ctx.db
      .query('apiKeys')
      .withIndex('by_ownerId', (q) => q.eq('ownerId', ownerId))
      .collect();
    if (owned.filter((k) => k.revokedAt === null).length >= maxActive)
      fail('conflict', `an account holds at most ${maxActive} unrevoked API keys; revoke one before creating another`);
    if (
      await ctx.db
        .query('apiKeys')
        .withIndex('by_keyId', (q) => q.eq('keyId', keyId))
        .first()
    )
      fail('conflict', 'an API key with this id already exists');
    if (
      await ctx.db
        .query('apiKeys')
        .withIndex('by_hash', (q) => q.eq('hash', hash))
        .first()
    )
      fail('conflict', 'an API key with this hash already exists');
    const key: ApiKeyDoc = { keyId, ownerId, name, prefix, hash, agentId, createdAt: now, revokedAt: null };
    await ctx.db.insert('apiKeys', key);
    await insertAudit(ctx.db, {
      ownerId,
      actor,
      action: 'api_key.created',
      targetType: 'api_key',
      targetId: keyId,
      details: JSON.stringify({ name, prefix, agentId }),
      at: now,
    });
    return toApiKey(key);
  },
});

/** Oldest first. */
export const list = serviceQuery({
  args: { ownerId: v.string() },
  returns: v.array(apiKeyOut),
  handler: async (ctx, { ownerId }) =>
    (
      await ctx.db
        .query('apiKeys')
        .withIndex('by_ownerId', (q) => q.eq('ownerId', ownerId))
        .collect()
    ).map(toApiKey),
});

/** Revoking a revoked key changes nothing: it keeps the time it was first revoked, and no second audit entry. */
export const revoke = serviceMutation({
  args: { ownerId: v.string(), keyId: v.string(), actor: v.string(), now: v.number() },
  returns: apiKeyOut,
  handler: async (ctx, { ownerId, keyId, actor, now }) => {
    const key = await ctx.db
      .query('apiKeys')
      .withIndex('by_keyId', (q) => q.eq('keyId', keyId))
      .unique();
    if (key === null || key.ownerId !== ownerId) fail('not_found', 'API key not found');
    if (key.revokedAt !== null) return toApiKey(key);
    await ctx.db.patch(key._id, { revokedAt: now });
    await insertAudit(ctx.db, {
      ownerId,
      actor,
      action: 'api_key.revoked',
      targetType: 'api_key',
      targetId: keyId,
      details: JSON.stringify({ name: key.name, prefix: key.prefix }),
      at: now,
    });
    return toApiKey({ ...key, revokedAt: now });
  },
});

/** The owner (and bound agent) of an unrevoked key with this hash, or null. */
export const findByHash = serviceQuery({
  args: { hash: v.string() },
  returns: v.nullable(v.object({ id: v.string(), ownerId: v.string(), agentId: v.nullable(v.string()) })),
  handler: async (ctx, { hash }) => {
    const key = await ctx.db
      .query('apiKeys')
      .withIndex('by_hash', (q) => q.eq('hash', hash))
      .unique();
    return key === null || key.revokedAt !== null
      ? null
      : { id: key.keyId, ownerId: key.ownerId, agentId: key.agentId ?? null };
  },
});
