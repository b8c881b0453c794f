import { v } from 'convex/values';
import { newId } from '../lib/ids.js';
import { fail, serviceMutation, serviceQuery } from './functions.js';
import { insertAudit, iso } from './model.js';
import type { MutationCtx, QueryCtx } from './_generated/server.js';
import { webhookDeliveryStatus, webhookEventType, type WebhookDeliveryDoc, type WebhookEndpointDoc } from './schema.js';

// Outbound webhook endpoints and their deliveries, with the SQL tables' semantics
// (lib/store/port/webhooks.ts). Creating and deleting an endpoint append their audit entry in
// the same mutation (one transaction).

const endpointOut = v.object({
  id: v.string(),
  url: v.string(),
  events: v.array(webhookEventType),
  description: v.nullable(v.string()),
  createdAt: v.string(),
  disabled: v.boolean(),
});
const toEndpoint = (d: WebhookEndpointDoc) => ({
  id: d.endpointId,
  url: d.url,
  events: d.events,
  description: d.description,
  createdAt: iso(d.createdAt),
  disabled: (d.disabledAt ?? null) !== null,
});

const deliveryOut = v.object({
  id: v.string(),
  endpointId: v.string(),
  eventId: v.string(),
  eventType: webhookEventType,
  agentId: v.string(),
  deploymentId: v.string(),
  status: webhookDeliveryStatus,
  attempts: v.number(),
  lastResponseStatus: v.nullable(v.number()),
  lastError: v.nullable(v.string()),
  createdAt: v.string(),
  lastAttemptAt: v.nullable(v.string()),
  finishedAt: v.nullable(v.string()),
});
/** Never the body. */
const toDelivery = (d: WebhookDeliveryDoc) => ({
  id: d.deliveryId,
  endpointId: d.endpointId,
  eventId: d.eventId,
  eventType: d.eventType,
  agentId: d.agentId,
  deploymentId: d.deploymentId,
  status: d.status,
  attempts: d.attempts,
  lastResponseStatus: d.lastResponseStatus,
  lastError: d.lastError,
  createdAt: iso(d.createdAt),
  lastAttemptAt: d.lastAttemptAt === null ? null : iso(d.lastAttemptAt),
  finishedAt: d.finishedAt === null ? null : iso(d.finishedAt),
});

async function liveEndpoint(db: QueryCtx['db'], ownerId: string, endpointId: string) {
  const endpoint = await db
    .query('webhookEndpoints')
    .withIndex('by_endpointId', (q) => q.eq('endpointId', endpointId))
    .unique();
  return endpoint !== null && endpoint.ownerId === ownerId && endpoint.deletedAt === null ? endpoint : null;
}

const ownerEndpoints = (db: QueryCtx['db'], ownerId: string) =>
  db.query('webhookEndpoints').withIndex('by_ownerId_endpointId', (q) => q.eq('ownerId', ownerId));

/** `conflict` at `maxActive` endpoints (two concurrent creates read the same rows, so Convex retries one). */
export const createEndpoint = serviceMutation({
  args: {
    endpointId: v.string(),
    ownerId: v.string(),
    url: v.string(),
    events: v.array(webhookEventType),
    description: v.nullable(v.string()),
    actor: v.string(),
    maxActive: v.number(),
    now: v.number(),
  },
  returns: endpointOut,
  handler: async (ctx, { endpointId, ownerId, url, events, description, actor, maxActive, now }) => {
    const owned = (await ownerEndpoints(ctx.db, ownerId).collect()).filter((e) => e.deletedAt === null);
    if (owned.length >= maxActive)
      fail('conflict', `an account has at most ${maxActive} webhook endpoints; delete one before adding another`);
    if (
      await ctx.db
        .query('webhookEndpoints')
        .withIndex('by_endpointId', (q) => q.eq('endpointId', endpointId))
        .first()
    )
      fail('conflict', 'a webhook endpoint with this id exists');
    const endpoint: WebhookEndpointDoc = {
      endpointId,
      ownerId,
      url,
      events,
      description,
      createdAt: now,
      disabledAt: null,
      deletedAt: null,
    };
    await ctx.db.insert('webhookEndpoints', endpoint);
    await insertAudit(ctx.db, {
      ownerId,
      actor,
      action: 'webhook.created',
      targetType: 'webhook',
      targetId: endpointId,
      details: JSON.stringify({ url, events }),
      at: now,
    });
    return toEndpoint(endpoint);
  },
});

/** Newest first; `before` is the id the previous page ended at. */
export const listEndpoints = serviceQuery({
  args: { ownerId: v.string(), limit: v.number(), before: v.optional(v.string()) },
  returns: v.object({ items: v.array(endpointOut), next: v.nullable(v.string()) }),
  handler: async (ctx, { ownerId, limit, before }) => {
    const rows = await ctx.db
      .query('webhookEndpoints')
      .withIndex('by_ownerId_endpointId', (q) =>
        before === undefined ? q.eq('ownerId', ownerId) : q.eq('ownerId', ownerId).lt('endpointId', before),
      )
      .order('desc')
      .filter((q) => q.eq(q.field('deletedAt'), null))
      .take(limit + 1);
    const items = rows.slice(0, limit);
    return { items: items.map(toEndpoint), next: rows.length > limit ? items.at(-1)!.endpointId : null };
  },
});

/** Disables or enables an endpoint, with its audit entry only when it changes. */
export const setDisabled = serviceMutation({
  args: { ownerId: v.string(), endpointId: v.string(), disabled: v.boolean(), actor: v.string(), now: v.number() },
  returns: endpointOut,
  handler: async (ctx, { ownerId, endpointId, disabled, actor, now }) => {
    const endpoint = await liveEndpoint(ctx.db, ownerId, endpointId);
    if (endpoint === null) fail('not_found', 'webhook endpoint not found');
    if (((endpoint.disabledAt ?? null) !== null) === disabled) return toEndpoint(endpoint);
    const disabledAt = disabled ? now : null;
    await ctx.db.patch(endpoint._id, { disabledAt });
    await insertAudit(ctx.db, {
      ownerId,
      actor,
      action: disabled ? 'webhook.disabled' : 'webhook.enabled',
      targetType: 'webhook',
      targetId: endpointId,
      details: null,
      at: now,
    });
    return toEndpoint({ ...endpoint, disabledAt });
  },
});

/** `not_found` when not the owner's or deleted; its pending deliveries give up. */
export const deleteEndpoint = serviceMutation({
  args: { ownerId: v.string(), endpointId: v.string(), actor: v.string(), now: v.number() },
  returns: v.null(),
  handler: async (ctx, { ownerId, endpointId, actor, now }) => {
    const endpoint = await liveEndpoint(ctx.db, ownerId, endpointId);
    if (endpoint === null) fail('not_found', 'webhook endpoint not found');
    await ctx.db.patch(endpoint._id, { deletedAt: now });
    const pending = (
      await ctx.db
        .query('webhookDeliveries')
        .withIndex('by_endpointId_deliveryId', (q) => q.eq('endpointId', endpointId))
        .collect()
    ).filter((d) => d.status === 'pending');
    for (const d of pending)
      await ctx.db.patch(d._id, { status: 'failed', lastError: 'the endpoint was deleted', finishedAt: now });
    await insertAudit(ctx.db, {
      ownerId,
      actor,
      action: 'webhook.deleted',
      targetType: 'webhook',
      targetId: endpointId,
      details: JSON.stringify({ url: endpoint.url }),
      at: now,
    });
    return null;
  },
});

/** Newest first; `not_found` when the endpoint is not the owner's (or deleted). */
export const listDeliveries = serviceQuery({
  args: { ownerId: v.string(), endpointId: v.string(), limit: v.number(), before: v.optional(v.string()) },
  returns: v.object({ items: v.array(deliveryOut), next: v.nullable(v.string()) }),
  handler: async (ctx, { ownerId, endpointId, limit, before }) => {
    if ((await liveEndpoint(ctx.db, ownerId, endpointId)) === null) fail('not_found', 'webhook endpoint not found');
    const rows = await ctx.db
      .query('webhookDeliveries')
      .withIndex('by_endpointId_deliveryId', (q) =>
        before === undefined ? q.eq('endpointId', endpointId) : q.eq('endpointId', endpointId).lt('deliveryId', before),
      )
      .order('desc')
      .take(limit + 1);
    const items = rows.slice(0, limit);
    return { items: items.map(toDelivery), next: rows.length > limit ? items.at(-1)!.deliveryId : null };
  },
});

/** How many old deliveries of an endpoint one event may delete. */
const PRUNED_PER_EVENT = 20;

/** A pending delivery to each subscribed endpoint; once per event id. */
export const recordDeliveries = serviceMutation({
  args: {
    ownerId: v.string(),
    eventId: v.string(),
    type: webhookEventType,
    agentId: v.string(),
    deploymentId: v.string(),
    body: v.string(),
    keepPerEndpoint: v.number(),
    now: v.number(),
  },
  returns: v.object({ deliveryIds: v.array(v.string()) }),
  handler: async (ctx, { ownerId, eventId, type, agentId, deploymentId, body, keepPerEndpoint, now }) => {
    const endpoints = (await ownerEndpoints(ctx.db, ownerId).collect()).filter(
      (e) => e.deletedAt === null && (e.disabledAt ?? null) === null && e.events.includes(type),
    );
    for (const endpoint of endpoints) {
      const recorded = await ctx.db
        .query('webhookDeliveries')
        .withIndex('by_endpointId_eventId', (q) => q.eq('endpointId', endpoint.endpointId).eq('eventId', eventId))
        .first();
      if (recorded) continue;
      await ctx.db.insert('webhookDeliveries', {
        deliveryId: newId('whd'),
        ownerId,
        endpointId: endpoint.endpointId,
        eventId,
        eventType: type,
        agentId,
        deploymentId,
        body,
        status: 'pending',
        attempts: 0,
        lastResponseStatus: null,
        lastError: null,
        createdAt: now,
        lastAttemptAt: null,
        finishedAt: null,
      });
      // bounded per endpoint: final deliveries older than the newest `keepPerEndpoint` go, a few
      // at a time (each event adds one)
      const newest = await ctx.db
        .query('webhookDeliveries')
        .withIndex('by_endpointId_deliveryId', (q) => q.eq('endpointId', endpoint.endpointId))
        .order('desc')
        .take(keepPerEndpoint + PRUNED_PER_EVENT);
      for (const old of newest.slice(keepPerEndpoint)) if (old.status !== 'pending') await ctx.db.delete(old._id);
    }
    const deliveries = await ctx.db
      .query('webhookDeliveries')
      .withIndex('by_eventId', (q) => q.eq('eventId', eventId))
      .collect();
    return {
      deliveryIds: deliveries
        .filter((d) => d.ownerId === ownerId)
        .map((d) => d.deliveryId)
        .sort(),
    };
  },
});

async function ownedDelivery(db: QueryCtx['db'], ownerId: string, deliveryId: string) {
  const delivery = await db
    .query('webhookDeliveries')
    .withIndex('by_deliveryId', (q) => q.eq('deliveryId', deliveryId))
    .unique();
  return delivery !== null && delivery.ownerId === ownerId ? delivery : null;
}

/** The endpoint's URL and the body; null when the delivery is not the owner's or its endpoint was deleted. */
export const deliveryTarget = serviceQuery({
  args: { ownerId: v.string(), deliveryId: v.string() },
  returns: v.nullable(
    v.object({
      deliveryId: v.string(),
      endpointId: v.string(),
      url: v.string(),
      body: v.string(),
      status: webhookDeliveryStatus,
    }),
  ),
  handler: async (ctx, { ownerId, deliveryId }) => {
    const delivery = await ownedDelivery(ctx.db, ownerId, deliveryId);
    if (delivery === null) return null;
    const endpoint = await liveEndpoint(ctx.db, ownerId, delivery.endpointId);
    if (endpoint === null) return null;
    return {
      deliveryId,
      endpointId: endpoint.endpointId,
      url: endpoint.url,
      body: delivery.body,
      status: delivery.status,
    };
  },
});

/** An attempt's outcome on a pending delivery; a final one is left as it is. */
export const recordAttempt = serviceMutation({
  args: {
    ownerId: v.string(),
    deliveryId: v.string(),
    attempt: v.number(),
    status: webhookDeliveryStatus,
    responseStatus: v.nullable(v.number()),
    error: v.nullable(v.string()),
    now: v.number(),
  },
  returns: deliveryOut,
  handler: async (ctx: MutationCtx, { ownerId, deliveryId, attempt, status, responseStatus, error, now }) => {
    const delivery = await ownedDelivery(ctx.db, ownerId, deliveryId);
    if (delivery === null) fail('not_found', 'webhook delivery not found');
    if (delivery.status !== 'pending') return toDelivery(delivery);
    const patch = {
      attempts: Math.max(delivery.attempts, attempt),
      status,
      lastResponseStatus: responseStatus,
      lastError: error,
      lastAttemptAt: now,
      finishedAt: status === 'pending' ? null : now,
    };
    await ctx.db.patch(delivery._id, patch);
    return toDelivery({ ...delivery, ...patch });
  },
});
