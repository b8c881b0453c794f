import { v } from 'convex/values';
import { IN_FLIGHT_STATUSES, isFinal, judgeTransition, transitionStepEntry } from '../lib/contracts/index.js';
import type { QueryCtx } from './_generated/server.js';
import { fail, serviceMutation, serviceQuery } from './functions.js';
import {
  auditNote,
  deploymentOut,
  insertAuditNote,
  ownedAgent,
  ownedDeployment,
  recordChange,
  toDeployment,
} from './model.js';
import {
  runtime as runtimeValidator,
  deploymentStatus,
  framework,
  gitSourceFields,
  stepLogEntry,
  type DeploymentDoc,
  type StepLogEntryDoc,
} from './schema.js';

/**
 * Characters of source text per stored part. A UTF-16 unit is at most 3 bytes of UTF-8, so a
 * part stays well under Convex's 1 MiB document limit while a files source may be 5 MiB.
 */
const FILE_PART_CHARS = 256 * 1024;

/** Splits text into parts, never between the two halves of a surrogate pair. */
function splitText(text: string): string[] {
  const parts: string[] = [];
  for (let start = 0; start < text.length || parts.length === 0;) {
    let end = Math.min(start + FILE_PART_CHARS, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    parts.push(text.slice(start, end));
    start = end;
  }
  return parts;
}

/** The agent's deployment that is queued, building or deploying, if any: there is at most one. */
export async function inFlightDeployment(db: QueryCtx['db'], agentId: string): Promise<DeploymentDoc | null> {
  for (const status of IN_FLIGHT_STATUSES) {
    const found = await db
      .query('deployments')
      .withIndex('by_agentId_status', (q) => q.eq('agentId', agentId).eq('status', status))
      .first();
    if (found) return found;
  }
  return null;
}

/** Appends a step log entry unless the very same entry is there already (a retried activity). */
function withStep(steps: StepLogEntryDoc[], entry: StepLogEntryDoc | null): StepLogEntryDoc[] {
  if (entry === null) return steps;
  const same = (s: StepLogEntryDoc) =>
    s.step === entry.step && s.status === entry.status && s.at === entry.at && s.message === entry.message;
  return steps.some(same) ? steps : [...steps, entry];
}

const sourceFile = v.object({ path: v.string(), text: v.string() });
/** A deployment's source as functions take and answer it: a files source's files as a list of paths and texts. */
const sourceArg = v.union(
  v.object({ type: v.literal('files'), entry: v.optional(v.string()), files: v.array(sourceFile) }),
  v.object({ type: v.literal('git'), ...gitSourceFields, entry: v.optional(v.string()) }),
  v.object({ type: v.literal('image'), uri: v.string() }),
);

/**
 * Creates a `queued` deployment with the next version number. At most one deployment of an
 * agent is in flight: the check and the insert are one serializable transaction, so of two
 * concurrent creations one commits and the other, retried by Convex, sees it and is refused.
 */
export const create = serviceMutation({
  args: {
    deploymentId: v.string(),
    ownerId: v.string(),
    agentId: v.string(),
    workflowId: v.string(),
    source: sourceArg,
    now: v.number(),
  },
  returns: deploymentOut,
  handler: async (ctx, { deploymentId, ownerId, agentId, workflowId, source, now }) => {
    const agent = await ownedAgent(ctx.db, ownerId, agentId);
    if (agent.rollbackWorkflowId) fail('conflict', 'a rollback of this agent is in progress; wait for it to finish');
    if (await inFlightDeployment(ctx.db, agentId))
      fail('conflict', 'a deployment of this agent is already in progress; wait for it to finish');
    if (
      await ctx.db
        .query('deployments')
        .withIndex('by_deploymentId', (q) => q.eq('deploymentId', deploymentId))
        .first()
    ) {
      fail('conflict', 'a deployment with this id already exists');
    }
    const latest = await ctx.db
      .query('deployments')
      .withIndex('by_agentId_version', (q) => q.eq('agentId', agentId))
      .order('desc')
      .first();
    const deployment: DeploymentDoc = {
      deploymentId,
      agentId,
      ownerId,
      version: (latest?.version ?? 0) + 1,
      runtime: agent.runtime,
      status: 'queued',
      sourceType: source.type,
      ...(source.type !== 'image' && source.entry !== undefined ? { entry: source.entry } : {}),
      ...(source.type === 'git'
        ? { git: { url: source.url, ref: source.ref, ...(source.path !== undefined ? { path: source.path } : {}) } }
        : {}),
      ...(source.type === 'image' ? { image: { uri: source.uri } } : {}),
      framework: null,
      commitSha: null,
      artifactDigest: null,
      providerRef: null,
      workflowId,
      steps: [],
      error: null,
      createdAt: now,
      updatedAt: now,
      finishedAt: null,
    };
    await ctx.db.insert('deployments', deployment);
    for (const { path, text } of source.type === 'files' ? source.files : []) {
      for (const [part, chunk] of splitText(text).entries())
        await ctx.db.insert('deploymentFiles', { deploymentId, path, part, text: chunk });
    }
    await recordChange(ctx, { ownerId, kind: 'deployment', id: deploymentId, serving: false });
    return toDeployment(deployment);
  },
});

export const get = serviceQuery({
  args: { ownerId: v.string(), deploymentId: v.string() },
  returns: deploymentOut,
  handler: async (ctx, { ownerId, deploymentId }) => toDeployment(await ownedDeployment(ctx.db, ownerId, deploymentId)),
});

/**
 * Whose a deployment is, by its id alone, or null: for a caller that proves itself with the
 * deployment's own key (the shim's signed telemetry), never for a user's request.
 */
export const ownerOf = serviceQuery({
  args: { deploymentId: v.string() },
  returns: v.nullable(
    v.object({ deploymentId: v.string(), ownerId: v.string(), agentId: v.string(), runtime: runtimeValidator }),
  ),
  handler: async (ctx, { deploymentId }) => {
    const d = await ctx.db
      .query('deployments')
      .withIndex('by_deploymentId', (q) => q.eq('deploymentId', deploymentId))
      .unique();
    return d === null ? null : { deploymentId, ownerId: d.ownerId, agentId: d.agentId, runtime: d.runtime };
  },
});

export const source = serviceQuery({
  args: { ownerId: v.string(), deploymentId: v.string() },
  returns: sourceArg,
  handler: async (ctx, { ownerId, deploymentId }) => {
    const deployment = await ownedDeployment(ctx.db, ownerId, deploymentId);
    const entry = deployment.entry !== undefined ? { entry: deployment.entry } : {};
    if (deployment.sourceType === 'git' && deployment.git) return { type: 'git' as const, ...deployment.git, ...entry };
    if (deployment.sourceType === 'image' && deployment.image)
      return { type: 'image' as const, uri: deployment.image.uri };
    const files: { path: string; text: string }[] = [];
    // in path, then part order: consecutive parts of one path join into its text
    for await (const part of ctx.db
      .query('deploymentFiles')
      .withIndex('by_deploymentId_path_part', (q) => q.eq('deploymentId', deploymentId))) {
      const last = files.at(-1);
      if (last?.path === part.path) last.text += part.text;
      else files.push({ path: part.path, text: part.text });
    }
    return { type: 'files' as const, ...entry, files };
  },
});

/** Newest version first; `before` is the version the previous page ended at. */
export const list = serviceQuery({
  args: { ownerId: v.string(), agentId: v.string(), limit: v.number(), before: v.optional(v.number()) },
  returns: v.object({ items: v.array(deploymentOut), next: v.nullable(v.number()) }),
  handler: async (ctx, { ownerId, agentId, limit, before }) => {
    await ownedAgent(ctx.db, ownerId, agentId);
    const rows = await ctx.db
      .query('deployments')
      .withIndex('by_agentId_version', (q) =>
        before === undefined ? q.eq('agentId', agentId) : q.eq('agentId', agentId).lt('version', before),
      )
      .order('desc')
      .take(limit + 1);
    const items = rows.slice(0, limit);
    return { items: items.map(toDeployment), next: rows.length > limit ? items.at(-1)!.version : null };
  },
});

/**
 * Moves a deployment along its lifecycle. Final states never change again; repeating the
 * transition that already happened (an activity retry) answers the deployment unchanged.
 */
export const transition = serviceMutation({
  args: {
    ownerId: v.string(),
    deploymentId: v.string(),
    to: deploymentStatus,
    now: v.number(),
    step: v.optional(stepLogEntry.fields.step),
    artifactDigest: v.optional(v.string()),
    providerRef: v.optional(v.string()),
    error: v.optional(v.object({ code: v.string(), message: v.string() })),
    audit: v.optional(auditNote),
  },
  returns: deploymentOut,
  handler: async (ctx, { ownerId, deploymentId, to, now, step, artifactDigest, providerRef, error, audit }) => {
    const current = await ownedDeployment(ctx.db, ownerId, deploymentId);
    const judged = judgeTransition(current.status, to);
    if (judged.kind === 'repeat') return toDeployment(current);
    if (judged.kind === 'refuse') fail('conflict', judged.message);
    const entry = transitionStepEntry({ to, step, now: new Date(now), error });
    const changed = {
      status: to,
      updatedAt: now,
      finishedAt: isFinal(to) ? now : current.finishedAt,
      artifactDigest: artifactDigest ?? current.artifactDigest,
      providerRef: providerRef ?? current.providerRef,
      error: error ?? current.error,
      steps: withStep(current.steps, entry),
    };
    await ctx.db.patch(current._id, changed);
    await recordChange(ctx, { ownerId, kind: 'deployment', id: deploymentId, serving: false });
    await insertAuditNote(ctx.db, ownerId, audit, now);
    return toDeployment({ ...current, ...changed });
  },
});

/** Appends to the step log of a deployment that is not final yet, with the provider's version once known. */
export const recordStep = serviceMutation({
  args: { ownerId: v.string(), deploymentId: v.string(), entry: stepLogEntry, providerRef: v.optional(v.string()) },
  returns: v.null(),
  handler: async (ctx, { ownerId, deploymentId, entry, providerRef }) => {
    const at = Date.parse(entry.at);
    if (Number.isNaN(at)) fail('validation_failed', `entry.at is not a time: ${entry.at}`);
    const current = await ownedDeployment(ctx.db, ownerId, deploymentId);
    if (isFinal(current.status)) fail('conflict', `deployment is ${current.status} and can no longer change`);
    await ctx.db.patch(current._id, {
      steps: withStep(current.steps, entry),
      updatedAt: at,
      providerRef: providerRef ?? current.providerRef,
    });
    await recordChange(ctx, { ownerId, kind: 'deployment', id: deploymentId, serving: false });
    return null;
  },
});

/** Records what the build found on a deployment that is not final yet; a repeat changes nothing. */
export const recordBuild = serviceMutation({
  args: { ownerId: v.string(), deploymentId: v.string(), framework, commitSha: v.optional(v.string()) },
  returns: v.null(),
  handler: async (ctx, { ownerId, deploymentId, framework: detected, commitSha }) => {
    const current = await ownedDeployment(ctx.db, ownerId, deploymentId);
    if (isFinal(current.status)) fail('conflict', `deployment is ${current.status} and can no longer change`);
    await ctx.db.patch(current._id, { framework: detected, commitSha: commitSha ?? current.commitSha ?? null });
    await recordChange(ctx, { ownerId, kind: 'deployment', id: deploymentId, serving: false });
    return null;
  },
});
