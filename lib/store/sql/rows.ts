import { notFound, type Agent, type UsageTotals } from '../../contracts/index.js';
import type { SqlExecutor } from './client.js';
import type { StoreChange } from '../port/index.js';

// What every domain of the SQL adapter shares: row conversion, owner-scoped agent lookups,
// and the NOTIFY channels that carry changes to other processes.

export type Row = Record<string, unknown>;

export const n = (v: unknown): number => Number(v ?? 0);
export const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());
export const isoOrNull = (v: unknown): string | null => (v == null ? null : iso(v));
export const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

/** The columns of a usage total (`UsageTotals`), as the aggregate tables name them. */
export const TOTAL_COLUMNS = [
  'requests',
  'errors',
  'duration_ms',
  'compute_ms',
  'input_bytes',
  'output_bytes',
  'input_tokens',
  'output_tokens',
] as const;

export const totalsOf = (r: Row): UsageTotals => ({
  requests: n(r.requests),
  errors: n(r.errors),
  durationMs: n(r.duration_ms),
  computeMs: n(r.compute_ms),
  inputBytes: n(r.input_bytes),
  outputBytes: n(r.output_bytes),
  inputTokens: n(r.input_tokens),
  outputTokens: n(r.output_tokens),
});

export function toAgent(r: Row): Agent {
  return {
    id: r.id as string,
    ownerId: r.owner_id as string,
    name: r.name as string,
    runtime: r.runtime as Agent['runtime'],
    status: r.status as Agent['status'],
    activeDeploymentId: (r.active_deployment_id as string | null) ?? null,
    rollbackWorkflowId: (r.rollback_workflow_id as string | null) ?? null,
    pausedAt: isoOrNull(r.paused_at),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

/** The owner's active agent; another owner's, a deleted or an unknown one is `not_found`. */
export async function activeAgent(
  db: SqlExecutor,
  ownerId: string,
  agentId: string,
  opts: { lock?: boolean } = {},
): Promise<Agent> {
  const { rows } = await db.query(
    `select * from agents where id = $1 and owner_id = $2 and status = 'active'${opts.lock ? ' for update' : ''}`,
    [agentId, ownerId],
  );
  if (!rows[0]) throw notFound('agent');
  return toAgent(rows[0]);
}

/** NOTIFY channel for changes to which deployment serves an agent; the payload is the agent id. */
export const SERVING_CHANNEL = 'webhost_serving';
/** NOTIFY channel for the dashboard's live updates; the payload is a `StoreChange` as JSON. */
export const CHANGES_CHANNEL = 'webhost_changes';

/** Announces a change; inside a transaction, watchers hear of it once it commits. */
export async function notifyChange(db: SqlExecutor, change: StoreChange): Promise<void> {
  await db.query(`select pg_notify('${CHANGES_CHANNEL}', $1)`, [JSON.stringify(change)]);
}

export async function notifyServing(db: SqlExecutor, agentId: string): Promise<void> {
  await db.query(`select pg_notify('${SERVING_CHANNEL}', $1)`, [agentId]);
}
