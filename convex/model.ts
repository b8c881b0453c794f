import { v, type Infer } from 'convex/values';
import type { Doc } from './_generated/dataModel.js';
import type { MutationCtx, QueryCtx } from './_generated/server.js';
import { fail } from './functions.js';
import {
  addOn,
  agentStatus,
  billingState,
  deploymentStatus,
  framework,
  runtime,
  sourceType,
  stepLogEntry,
  tier,
  usageTotals,
  type AgentDoc,
  type AuditEntryDoc,
  type BillingPeriodDoc,
  type ChangeDoc,
  type DeploymentDoc,
  type UsageDoc,
  type UsageTotalsDoc,
} from './schema.js';

// What functions answer: the domain shapes of lib/contracts (ISO times, our own ids), so
// `ConvexStore` and the dashboard read the same objects the SQL store returns. Lookups that
// several modules share, each scoped by owner, live here too.

export const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

export const agentOut = v.object({
  id: v.string(),
  ownerId: v.string(),
  name: v.string(),
  runtime,
  status: agentStatus,
  activeDeploymentId: v.nullable(v.string()),
  rollbackWorkflowId: v.nullable(v.string()),
  pausedAt: v.nullable(v.string()),
  createdAt: v.string(),
  updatedAt: v.string(),
});
export type AgentOut = Infer<typeof agentOut>;

export const toAgent = (d: AgentDoc): AgentOut => ({
  id: d.agentId,
  ownerId: d.ownerId,
  name: d.name,
  runtime: d.runtime,
  status: d.status,
  activeDeploymentId: d.activeDeploymentId,
  rollbackWorkflowId: d.rollbackWorkflowId ?? null,
  pausedAt: isoOrNull(d.pausedAt ?? null),
  createdAt: iso(d.createdAt),
  updatedAt: iso(d.updatedAt),
});

export const deploymentOut = v.object({
  id: v.string(),
  agentId: v.string(),
  ownerId: v.string(),
  version: v.number(),
  runtime,
  status: deploymentStatus,
  sourceType,
  framework: v.nullable(framework),
  commitSha: v.nullable(v.string()),
  artifactDigest: v.nullable(v.string()),
  providerRef: v.nullable(v.string()),
  workflowId: v.string(),
  steps: v.array(stepLogEntry),
  error: v.nullable(v.object({ code: v.string(), message: v.string() })),
  createdAt: v.string(),
  updatedAt: v.string(),
  finishedAt: v.nullable(v.string()),
});
export type DeploymentOut = Infer<typeof deploymentOut>;

export const toDeployment = (d: DeploymentDoc): DeploymentOut => ({
  id: d.deploymentId,
  agentId: d.agentId,
  ownerId: d.ownerId,
  version: d.version,
  runtime: d.runtime,
  status: d.status,
  sourceType: d.sourceType,
  framework: d.framework ?? null,
  commitSha: d.commitSha ?? null,
  artifactDigest: d.artifactDigest,
  providerRef: d.providerRef,
  workflowId: d.workflowId,
  steps: d.steps,
  error: d.error,
  createdAt: iso(d.createdAt),
  updatedAt: iso(d.updatedAt),
  finishedAt: isoOrNull(d.finishedAt),
});

export const userOut = v.object({
  id: v.string(),
  tier,
  addOns: v.array(addOn),
  defaultRuntime: runtime,
  billing: v.object({ ...billingState.fields, graceEndsAt: v.nullable(v.string()) }),
  createdAt: v.string(),
});

export const toUser = (d: Doc<'users'>): Infer<typeof userOut> => ({
  id: d.userId,
  tier: d.tier,
  addOns: d.addOns ?? [],
  defaultRuntime: d.defaultRuntime,
  billing: { ...d.billing, graceEndsAt: d.billing.graceEndsAt ?? null },
  createdAt: iso(d.createdAt),
});

export const periodUsageOut = v.object({ ownerId: v.string(), period: v.string(), runtime, ...usageTotals });
export const totalsOut = (d: UsageTotalsDoc): UsageTotalsDoc => ({
  requests: d.requests,
  errors: d.errors,
  durationMs: d.durationMs,
  computeMs: d.computeMs,
  inputBytes: d.inputBytes,
  outputBytes: d.outputBytes,
  inputTokens: d.inputTokens,
  outputTokens: d.outputTokens,
});
export const toPeriodUsage = (d: UsageDoc): Infer<typeof periodUsageOut> => ({
  ownerId: d.ownerId,
  period: d.period,
  runtime: d.runtime,
  ...totalsOut(d),
});

export const billingPeriodOut = v.object({
  ownerId: v.string(),
  period: v.string(),
  status: v.union(v.literal('open'), v.literal('closed')),
  totals: v.nullable(v.object(usageTotals)),
  costUsd: v.nullable(v.number()),
  usageReportId: v.nullable(v.string()),
  closedAt: v.nullable(v.string()),
});

/** A period without a row has not been closed: it is open and has no frozen totals yet. */
export function toBillingPeriod(
  ownerId: string,
  period: string,
  d: BillingPeriodDoc | null,
): Infer<typeof billingPeriodOut> {
  if (d === null)
    return { ownerId, period, status: 'open', totals: null, costUsd: null, usageReportId: null, closedAt: null };
  return {
    ownerId,
    period,
    status: d.status,
    totals: d.totals,
    costUsd: d.costUsd,
    usageReportId: d.usageReportId,
    closedAt: isoOrNull(d.closedAt),
  };
}

export const auditEntryOut = v.object({
  id: v.string(),
  ownerId: v.string(),
  actor: v.string(),
  action: v.string(),
  targetType: v.string(),
  targetId: v.string(),
  /** JSON text: the details' keys are the caller's and need not be Convex field names. */
  details: v.nullable(v.string()),
  at: v.string(),
});
export const toAuditEntry = (d: Doc<'auditLog'>): Infer<typeof auditEntryOut> => ({
  id: d._id,
  ownerId: d.ownerId,
  actor: d.actor,
  action: d.action,
  targetType: d.targetType,
  targetId: d.targetId,
  details: d.details,
  at: iso(d.at),
});

type Reader = QueryCtx['db'];

export async function findUser(db: Reader, userId: string): Promise<Doc<'users'> | null> {
  return db
    .query('users')
    .withIndex('by_userId', (q) => q.eq('userId', userId))
    .unique();
}

/** The owner's agent, unless it does not exist, is someone else's, or was deleted: all `not_found`. */
export async function ownedAgent(db: Reader, ownerId: string, agentId: string): Promise<Doc<'agents'>> {
  const agent = await db
    .query('agents')
    .withIndex('by_agentId', (q) => q.eq('agentId', agentId))
    .unique();
  if (agent === null || agent.ownerId !== ownerId || agent.status !== 'active') fail('not_found', 'agent not found');
  return agent;
}

/** The owner's deployment, whatever became of its agent; another owner's is `not_found`. */
export async function ownedDeployment(db: Reader, ownerId: string, deploymentId: string): Promise<Doc<'deployments'>> {
  const deployment = await db
    .query('deployments')
    .withIndex('by_deploymentId', (q) => q.eq('deploymentId', deploymentId))
    .unique();
  if (deployment === null || deployment.ownerId !== ownerId) fail('not_found', 'deployment not found');
  return deployment;
}

/** Tells watchers (`convex/watch.ts`) about a change, in the transaction that makes it. */
export async function recordChange(ctx: MutationCtx, change: ChangeDoc): Promise<void> {
  await ctx.db.insert('changes', change);
}

/**
 * Appends to an owner's audit log under the next number of that owner's log, inside the
 * mutation that made the change. Two concurrent appends read the same last entry, so Convex
 * retries one of them: numbers never repeat.
 */
/** An audit entry carried by a change (`AuditNote` in lib/store/port/audit.ts), details as JSON text. */
export const auditNote = v.object({
  actor: v.string(),
  action: v.string(),
  targetType: v.string(),
  targetId: v.string(),
  details: v.nullable(v.string()),
});

/** Writes the note in the mutation that made the change (one transaction), when there is one. */
export async function insertAuditNote(
  db: MutationCtx['db'],
  ownerId: string,
  note: Infer<typeof auditNote> | undefined,
  at: number,
): Promise<void> {
  if (note) await insertAudit(db, { ...note, ownerId, at });
}

export async function insertAudit(
  db: MutationCtx['db'],
  entry: Omit<AuditEntryDoc, 'seq' | 'details'> & { details: string | null },
): Promise<void> {
  const last = await db
    .query('auditLog')
    .withIndex('by_ownerId_seq', (q) => q.eq('ownerId', entry.ownerId))
    .order('desc')
    .first();
  await db.insert('auditLog', { ...entry, seq: (last?.seq ?? 0) + 1 });
}

/**
 * Retention of a raw per-owner table (telemetry events, log lines), shared by both: deletes at
 * most `limit` rows of `owners` written before `cutoff`, and records on each owner when its
 * oldest kept row is (`setFrom`), so the next batch reads only owners with something to delete.
 */
export async function deleteOwnedRowsBefore(
  ctx: MutationCtx,
  table: 'telemetryEvents' | 'logLines',
  owners: Doc<'users'>[],
  opts: { cutoff: number; limit: number; setFrom: (owner: Doc<'users'>, oldestLeft: number | null) => Promise<void> },
): Promise<{ deleted: number }> {
  let deleted = 0;
  for (const owner of owners) {
    if (deleted === opts.limit) break;
    const old = await ctx.db
      .query(table)
      .withIndex('by_ownerId_at', (q) => q.eq('ownerId', owner.userId).lt('at', opts.cutoff))
      .take(opts.limit - deleted);
    for (const row of old) await ctx.db.delete(row._id);
    deleted += old.length;
    const oldestLeft = await ctx.db
      .query(table)
      .withIndex('by_ownerId_at', (q) => q.eq('ownerId', owner.userId))
      .first();
    await opts.setFrom(owner, oldestLeft?.at ?? null);
  }
  return { deleted };
}
