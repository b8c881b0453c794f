import { v } from 'convex/values';
import type { QueryCtx } from './_generated/server.js';
import { fail, serviceMutation, serviceQuery } from './functions.js';
import { agentOut, auditNote, findUser, insertAuditNote, ownedAgent, recordChange, toAgent } from './model.js';
import { inFlightDeployment } from './deployments.js';
import { runtime, type AgentDoc } from './schema.js';

/** Names are unique among an owner's active agents: a deleted agent frees its name. */
async function nameTaken(db: QueryCtx['db'], ownerId: string, name: string, except?: string): Promise<boolean> {
  const same = await db
    .query('agents')
    .withIndex('by_ownerId_status_name', (q) => q.eq('ownerId', ownerId).eq('status', 'active').eq('name', name))
    .collect();
  return same.some((a) => a.agentId !== except);
}

export const create = serviceMutation({
  args: {
    agentId: v.string(),
    ownerId: v.string(),
    name: v.string(),
    runtime,
    now: v.number(),
    maxAgents: v.optional(v.number()),
    audit: v.optional(auditNote),
  },
  returns: agentOut,
  handler: async (ctx, { agentId, ownerId, name, runtime, now, maxAgents, audit }) => {
    if ((await findUser(ctx.db, ownerId)) === null) fail('not_found', 'user not found');
    if (maxAgents !== undefined) {
      // a mutation is serializable: two creates at once cannot both see room for one more
      const active = await ctx.db
        .query('agents')
        .withIndex('by_ownerId_status_agentId', (q) => q.eq('ownerId', ownerId).eq('status', 'active'))
        .take(maxAgents + 1);
      if (active.length >= maxAgents) fail('entitlement_required', `at most ${maxAgents} agents on this account`);
    }
    if (
      await ctx.db
        .query('agents')
        .withIndex('by_agentId', (q) => q.eq('agentId', agentId))
        .first()
    )
      fail('conflict', 'an agent with this id already exists');
    if (await nameTaken(ctx.db, ownerId, name)) fail('conflict', `an agent named "${name}" already exists`);
    const agent: AgentDoc = {
      agentId,
      ownerId,
      name,
      runtime,
      status: 'active',
      activeDeploymentId: null,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
    };
    await ctx.db.insert('agents', agent);
    await recordChange(ctx, { ownerId, kind: 'agent', id: agentId, serving: false });
    await insertAuditNote(ctx.db, ownerId, audit, now);
    return toAgent(agent);
  },
});

export const get = serviceQuery({
  args: { ownerId: v.string(), agentId: v.string() },
  returns: agentOut,
  handler: async (ctx, { ownerId, agentId }) => toAgent(await ownedAgent(ctx.db, ownerId, agentId)),
});

/** The owner's agent whether active or deleted. */
export const find = serviceQuery({
  args: { ownerId: v.string(), agentId: v.string() },
  returns: agentOut,
  handler: async (ctx, { ownerId, agentId }) => toAgent(await anyOwnedAgent(ctx.db, ownerId, agentId)),
});

async function anyOwnedAgent(db: QueryCtx['db'], ownerId: string, agentId: string) {
  const agent = await db
    .query('agents')
    .withIndex('by_agentId', (q) => q.eq('agentId', agentId))
    .unique();
  if (agent === null || agent.ownerId !== ownerId) fail('not_found', 'agent not found');
  return agent;
}

/** Moves the agent to another runtime from its next deploy on. */
export const setRuntime = serviceMutation({
  args: { ownerId: v.string(), agentId: v.string(), runtime, now: v.number(), audit: v.optional(auditNote) },
  returns: agentOut,
  handler: async (ctx, { ownerId, agentId, runtime, now, audit }) => {
    const agent = await ownedAgent(ctx.db, ownerId, agentId);
    await ctx.db.patch(agent._id, { runtime, updatedAt: now });
    await recordChange(ctx, { ownerId, kind: 'agent', id: agentId, serving: false });
    await insertAuditNote(ctx.db, ownerId, audit, now);
    return toAgent({ ...agent, runtime, updatedAt: now });
  },
});

/** Takes the agent's one in-flight slot for a rollback (see `AgentStore.beginRollback`). */
export const beginRollback = serviceMutation({
  args: { ownerId: v.string(), agentId: v.string(), workflowId: v.string(), now: v.number() },
  returns: agentOut,
  handler: async (ctx, { ownerId, agentId, workflowId, now }) => {
    const agent = await ownedAgent(ctx.db, ownerId, agentId);
    if (agent.rollbackWorkflowId === workflowId) return toAgent(agent);
    if (agent.rollbackWorkflowId)
      fail('conflict', 'a rollback of this agent is in progress; try again when it has finished');
    if (await inFlightDeployment(ctx.db, agentId))
      fail('conflict', 'a deployment of this agent is in progress; try again when it has finished');
    await ctx.db.patch(agent._id, { rollbackWorkflowId: workflowId, updatedAt: now });
    await recordChange(ctx, { ownerId, kind: 'agent', id: agentId, serving: false });
    return toAgent({ ...agent, rollbackWorkflowId: workflowId, updatedAt: now });
  },
});

/** Frees the rollback slot if this workflow holds it. */
export const endRollback = serviceMutation({
  args: { ownerId: v.string(), agentId: v.string(), workflowId: v.string(), now: v.number() },
  returns: v.null(),
  handler: async (ctx, { ownerId, agentId, workflowId, now }) => {
    const agent = await anyOwnedAgent(ctx.db, ownerId, agentId);
    if (agent.rollbackWorkflowId !== workflowId) return null;
    await ctx.db.patch(agent._id, { rollbackWorkflowId: null, updatedAt: now });
    await recordChange(ctx, { ownerId, kind: 'agent', id: agentId, serving: false });
    return null;
  },
});

/** Newest first: ids are time-ordered, so a page after `before` is stable while agents are added. */
export const list = serviceQuery({
  args: { ownerId: v.string(), limit: v.number(), before: v.optional(v.string()) },
  returns: v.object({ items: v.array(agentOut), next: v.nullable(v.string()) }),
  handler: async (ctx, { ownerId, limit, before }) => {
    const rows = await ctx.db
      .query('agents')
      .withIndex('by_ownerId_status_agentId', (q) => {
        const active = q.eq('ownerId', ownerId).eq('status', 'active');
        return before === undefined ? active : active.lt('agentId', before);
      })
      .order('desc')
      .take(limit + 1);
    const items = rows.slice(0, limit);
    return { items: items.map(toAgent), next: rows.length > limit ? items.at(-1)!.agentId : null };
  },
});

export const rename = serviceMutation({
  args: { ownerId: v.string(), agentId: v.string(), name: v.string(), now: v.number(), audit: v.optional(auditNote) },
  returns: agentOut,
  handler: async (ctx, { ownerId, agentId, name, now, audit }) => {
    const agent = await ownedAgent(ctx.db, ownerId, agentId);
    if (await nameTaken(ctx.db, ownerId, name, agentId)) fail('conflict', `an agent named "${name}" already exists`);
    await ctx.db.patch(agent._id, { name, updatedAt: now });
    await recordChange(ctx, { ownerId, kind: 'agent', id: agentId, serving: false });
    await insertAuditNote(ctx.db, ownerId, audit, now);
    return toAgent({ ...agent, name, updatedAt: now });
  },
});

/** Soft delete: history stays; refused while a deployment is in flight. */
export const remove = serviceMutation({
  args: { ownerId: v.string(), agentId: v.string(), now: v.number(), audit: v.optional(auditNote) },
  returns: agentOut,
  handler: async (ctx, { ownerId, agentId, now, audit }) => {
    const agent = await ownedAgent(ctx.db, ownerId, agentId);
    if (agent.rollbackWorkflowId)
      fail('conflict', 'a rollback of this agent is in progress; try again when it has finished');
    if (await inFlightDeployment(ctx.db, agentId))
      fail('conflict', 'a deployment of this agent is in progress; try again when it has finished');
    const deleted = { status: 'deleted', deletedAt: now, updatedAt: now } as const;
    await ctx.db.patch(agent._id, deleted);
    await recordChange(ctx, { ownerId, kind: 'agent', id: agentId, serving: true });
    await insertAuditNote(ctx.db, ownerId, audit, now);
    return toAgent({ ...agent, ...deleted });
  },
});

/** Undoes `remove`: the agent is active again, unless another agent took its name meanwhile. */
export const restore = serviceMutation({
  args: { ownerId: v.string(), agentId: v.string(), now: v.number(), audit: v.optional(auditNote) },
  returns: agentOut,
  handler: async (ctx, { ownerId, agentId, now, audit }) => {
    const agent = await ctx.db
      .query('agents')
      .withIndex('by_agentId', (q) => q.eq('agentId', agentId))
      .unique();
    if (agent === null || agent.ownerId !== ownerId || agent.status !== 'deleted')
      fail('not_found', 'deleted agent not found');
    if (await nameTaken(ctx.db, ownerId, agent.name, agentId)) fail('conflict', 'another agent took this agent’s name');
    const restored = { status: 'active', deletedAt: null, updatedAt: now } as const;
    await ctx.db.patch(agent._id, restored);
    await recordChange(ctx, { ownerId, kind: 'agent', id: agentId, serving: true });
    await insertAuditNote(ctx.db, ownerId, audit, now);
    return toAgent({ ...agent, ...restored });
  },
});

/**
 * Compare-and-set of the serving pointer: true when this call made the switch. The pointer
 * moves only to a deployment of the same agent and owner.
 */
export const switchActive = serviceMutation({
  args: {
    ownerId: v.string(),
    agentId: v.string(),
    expected: v.nullable(v.string()),
    next: v.nullable(v.string()),
    now: v.number(),
    audit: v.optional(auditNote),
  },
  returns: v.boolean(),
  handler: async (ctx, { ownerId, agentId, expected, next, now, audit }) => {
    if (next !== null) {
      const target = await ctx.db
        .query('deployments')
        .withIndex('by_deploymentId', (q) => q.eq('deploymentId', next))
        .unique();
      if (target === null || target.agentId !== agentId || target.ownerId !== ownerId)
        fail('not_found', 'deployment not found');
    }
    const agent = await ownedAgent(ctx.db, ownerId, agentId);
    if (agent.activeDeploymentId !== expected) return false;
    await ctx.db.patch(agent._id, { activeDeploymentId: next, updatedAt: now });
    await recordChange(ctx, { ownerId, kind: 'agent', id: agentId, serving: true });
    await insertAuditNote(ctx.db, ownerId, audit, now);
    return true;
  },
});

/** Hot path of the gateway: the agent and the deployment that serves it, in one read. */
export const servingTarget = serviceQuery({
  args: { ownerId: v.string(), agentId: v.string() },
  returns: v.object({
    agent: agentOut,
    deployment: v.nullable(v.object({ id: v.string(), runtime, providerRef: v.string() })),
  }),
  handler: async (ctx, { ownerId, agentId }) => {
    const agent = await ownedAgent(ctx.db, ownerId, agentId);
    const active = agent.activeDeploymentId;
    const serving =
      active === null
        ? null
        : await ctx.db
            .query('deployments')
            .withIndex('by_deploymentId', (q) => q.eq('deploymentId', active))
            .unique();
    return {
      agent: toAgent(agent),
      deployment: serving?.providerRef
        ? { id: serving.deploymentId, runtime: serving.runtime, providerRef: serving.providerRef }
        : null,
    };
  },
});
