import { createHash } from 'node:crypto';
import { AppError, isFinal, notFound } from '../contracts/index.js';
import type { Agent, Deployment, DeploymentStatus, FilesSource, Page, PageQuery, StepLogEntry } from '../contracts/index.js';
import { migrations } from './migrations.js';
import type { IdempotencyBegin, ServingTarget, Store, TransitionInput } from './port.js';
import { isUniqueViolation, type SqlClient, type SqlExecutor } from './sql-client.js';

/** Which statuses a deployment may move to from each status; final statuses have none. */
const TRANSITIONS: Record<DeploymentStatus, readonly DeploymentStatus[]> = {
  queued: ['building', 'failed', 'canceled'],
  building: ['deploying', 'failed', 'canceled'],
  deploying: ['live', 'failed', 'canceled'],
  live: [],
  failed: [],
  canceled: [],
};

type Row = Record<string, unknown>;

/** NOTIFY channel for changes to which deployment serves an agent; the payload is the agent id. */
const SERVING_CHANNEL = 'webhost_serving';

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());
const isoOrNull = (v: unknown): string | null => (v == null ? null : iso(v));
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

function toAgent(r: Row): Agent {
  return {
    id: r.id as string,
    ownerId: r.owner_id as string,
    name: r.name as string,
    runtime: r.runtime as Agent['runtime'],
    status: r.status as Agent['status'],
    activeDeploymentId: (r.active_deployment_id as string | null) ?? null,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

const DEPLOYMENT_COLUMNS = `id, agent_id, owner_id, version, runtime, status, source_type, artifact_digest,
  provider_ref, workflow_id, steps, error, created_at, updated_at, finished_at`;

function toDeployment(r: Row): Deployment {
  return {
    id: r.id as string,
    agentId: r.agent_id as string,
    ownerId: r.owner_id as string,
    version: Number(r.version),
    runtime: r.runtime as Deployment['runtime'],
    status: r.status as DeploymentStatus,
    sourceType: r.source_type as 'files',
    artifactDigest: (r.artifact_digest as string | null) ?? null,
    providerRef: (r.provider_ref as string | null) ?? null,
    workflowId: r.workflow_id as string,
    steps: json<StepLogEntry[]>(r.steps),
    error: json<Deployment['error']>(r.error) ?? null,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    finishedAt: isoOrNull(r.finished_at),
  };
}

/** Cursors are opaque to clients; inside they are the sort key of the last item returned. */
const encodeCursor = (key: string | number) => Buffer.from(JSON.stringify(key)).toString('base64url');
function decodeCursor<T extends string | number>(cursor: string | undefined, kind: 'string' | 'number'): T | undefined {
  if (cursor === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof v === kind) return v as T;
  } catch {
    // fall through to the error below
  }
  throw new AppError('validation_failed', 'cursor is not one this API handed out');
}

function page<T>(rows: T[], limit: number, key: (t: T) => string | number): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(key(last)) : null };
}

/** The store on PostgreSQL semantics, over PGlite or a PostgreSQL server. */
export class SqlStore implements Store {
  private constructor(private readonly db: SqlClient) {}

  static async open(db: SqlClient): Promise<SqlStore> {
    await migrate(db);
    return new SqlStore(db);
  }

  async ensureUser(userId: string, now: Date): Promise<void> {
    await this.db.query('insert into users (id, created_at) values ($1, $2) on conflict (id) do nothing', [userId, now]);
  }

  async createAgent(input: { id: string; ownerId: string; name: string; runtime: Agent['runtime']; now: Date }): Promise<Agent> {
    try {
      const { rows } = await this.db.query(
        `insert into agents (id, owner_id, name, runtime, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $5) returning *`,
        [input.id, input.ownerId, input.name, input.runtime, input.now],
      );
      return toAgent(rows[0]!);
    } catch (err) {
      if (isUniqueViolation(err, 'agents_by_owner_name')) throw new AppError('conflict', `an agent named "${input.name}" already exists`);
      throw err;
    }
  }

  async getAgent(ownerId: string, agentId: string): Promise<Agent> {
    const { rows } = await this.db.query(`select * from agents where id = $1 and owner_id = $2 and status = 'active'`, [agentId, ownerId]);
    if (!rows[0]) throw notFound('agent');
    return toAgent(rows[0]);
  }

  async listAgents(ownerId: string, q: PageQuery): Promise<Page<Agent>> {
    const after = decodeCursor<string>(q.cursor, 'string');
    const { rows } = await this.db.query(
      `select * from agents where owner_id = $1 and status = 'active' and ($2::text is null or id < $2)
       order by id desc limit $3`,
      [ownerId, after ?? null, q.limit + 1],
    );
    return page(rows.map(toAgent), q.limit, (a) => a.id);
  }

  async renameAgent(input: { ownerId: string; agentId: string; name: string; now: Date }): Promise<Agent> {
    try {
      const { rows } = await this.db.query(
        `update agents set name = $3, updated_at = $4 where id = $1 and owner_id = $2 and status = 'active' returning *`,
        [input.agentId, input.ownerId, input.name, input.now],
      );
      if (!rows[0]) throw notFound('agent');
      return toAgent(rows[0]);
    } catch (err) {
      if (isUniqueViolation(err, 'agents_by_owner_name')) throw new AppError('conflict', `an agent named "${input.name}" already exists`);
      throw err;
    }
  }

  async deleteAgent(input: { ownerId: string; agentId: string; now: Date }): Promise<Agent> {
    return this.db.transaction(async (tx) => {
      const agent = await lockAgent(tx, input.ownerId, input.agentId);
      const inFlight = await tx.query(`select 1 from deployments where agent_id = $1 and status in ('queued', 'building', 'deploying')`, [agent.id]);
      if (inFlight.rows.length > 0) throw new AppError('conflict', 'a deployment of this agent is in progress; try again when it has finished');
      const { rows } = await tx.query(
        `update agents set status = 'deleted', deleted_at = $2, updated_at = $2 where id = $1 returning *`,
        [agent.id, input.now],
      );
      await tx.query(`select pg_notify('${SERVING_CHANNEL}', $1)`, [agent.id]);
      return toAgent(rows[0]!);
    });
  }

  async createDeployment(input: {
    id: string;
    ownerId: string;
    agentId: string;
    workflowId: string;
    source: FilesSource;
    now: Date;
  }): Promise<Deployment> {
    try {
      return await this.db.transaction(async (tx) => {
        const agent = await lockAgent(tx, input.ownerId, input.agentId);
        const { rows } = await tx.query(
          `insert into deployments (id, agent_id, owner_id, version, runtime, status, source_type, source, workflow_id, created_at, updated_at)
           select $1, $2, $3, coalesce(max(version), 0) + 1, $4, 'queued', $5, $6, $7, $8, $8 from deployments where agent_id = $2
           returning ${DEPLOYMENT_COLUMNS}`,
          [input.id, agent.id, input.ownerId, agent.runtime, input.source.type, JSON.stringify(input.source), input.workflowId, input.now],
        );
        return toDeployment(rows[0]!);
      });
    } catch (err) {
      if (isUniqueViolation(err, 'deployments_one_in_flight')) {
        throw new AppError('conflict', 'a deployment of this agent is already in progress; wait for it to finish');
      }
      throw err;
    }
  }

  async getDeployment(ownerId: string, deploymentId: string): Promise<Deployment> {
    const { rows } = await this.db.query(`select ${DEPLOYMENT_COLUMNS} from deployments where id = $1 and owner_id = $2`, [deploymentId, ownerId]);
    if (!rows[0]) throw notFound('deployment');
    return toDeployment(rows[0]);
  }

  async getDeploymentSource(ownerId: string, deploymentId: string): Promise<FilesSource> {
    const { rows } = await this.db.query<{ source: unknown }>(`select source from deployments where id = $1 and owner_id = $2`, [deploymentId, ownerId]);
    if (!rows[0]) throw notFound('deployment');
    return json<FilesSource>(rows[0].source);
  }

  async listDeployments(ownerId: string, agentId: string, q: PageQuery): Promise<Page<Deployment>> {
    const before = decodeCursor<number>(q.cursor, 'number');
    await this.getAgent(ownerId, agentId);
    const { rows } = await this.db.query(
      `select ${DEPLOYMENT_COLUMNS} from deployments
       where owner_id = $1 and agent_id = $2 and ($3::int is null or version < $3)
       order by version desc limit $4`,
      [ownerId, agentId, before ?? null, q.limit + 1],
    );
    return page(rows.map(toDeployment), q.limit, (d) => d.version);
  }

  async transitionDeployment(input: TransitionInput): Promise<Deployment> {
    const allowedFrom = (Object.keys(TRANSITIONS) as DeploymentStatus[]).filter((from) => TRANSITIONS[from].includes(input.to));
    const entry: StepLogEntry[] = input.step
      ? [{ step: input.step, status: input.to === 'failed' ? 'failed' : 'succeeded', at: input.now.toISOString(), ...(input.error ? { message: input.error.message } : {}) }]
      : [];
    const { rows } = await this.db.query(
      `update deployments set
         status = $3,
         updated_at = $4,
         finished_at = case when $3 in ('live', 'failed', 'canceled') then $4 else finished_at end,
         artifact_digest = coalesce($5, artifact_digest),
         provider_ref = coalesce($6, provider_ref),
         error = coalesce($7::jsonb, error),
         steps = case when steps @> $8::jsonb then steps else steps || $8::jsonb end
       where id = $1 and owner_id = $2 and status = any($9::text[])
       returning ${DEPLOYMENT_COLUMNS}`,
      [
        input.deploymentId,
        input.ownerId,
        input.to,
        input.now,
        input.artifactDigest ?? null,
        input.providerRef ?? null,
        input.error ? JSON.stringify(input.error) : null,
        JSON.stringify(entry),
        allowedFrom,
      ],
    );
    if (rows[0]) return toDeployment(rows[0]);
    const current = await this.getDeployment(input.ownerId, input.deploymentId);
    // Repeating the transition that already happened is success: activities are retried.
    if (current.status === input.to) return current;
    throw new AppError(
      'conflict',
      isFinal(current.status)
        ? `deployment is ${current.status} and can no longer change`
        : `deployment cannot move from ${current.status} to ${input.to}`,
    );
  }

  async recordDeploymentStep(input: { ownerId: string; deploymentId: string; entry: StepLogEntry; providerRef?: string }): Promise<void> {
    const { rowCount } = await this.db.query(
      `update deployments set steps = case when steps @> $3::jsonb then steps else steps || $3::jsonb end, updated_at = $4, provider_ref = coalesce($5, provider_ref)
       where id = $1 and owner_id = $2 and status in ('queued', 'building', 'deploying')`,
      [input.deploymentId, input.ownerId, JSON.stringify([input.entry]), input.entry.at, input.providerRef ?? null],
    );
    if (rowCount === 0) {
      const current = await this.getDeployment(input.ownerId, input.deploymentId);
      throw new AppError('conflict', `deployment is ${current.status} and can no longer change`);
    }
  }

  async switchActiveDeployment(input: { ownerId: string; agentId: string; expected: string | null; next: string | null; now: Date }): Promise<boolean> {
    if (input.next !== null) {
      const { rows } = await this.db.query(`select 1 from deployments where id = $1 and agent_id = $2 and owner_id = $3`, [input.next, input.agentId, input.ownerId]);
      if (!rows[0]) throw notFound('deployment');
    }
    const { rows: switched } = await this.db.query(
      `with switched as (
         update agents set active_deployment_id = $4, updated_at = $5
         where id = $1 and owner_id = $2 and status = 'active' and active_deployment_id is not distinct from $3
         returning id
       )
       select pg_notify('${SERVING_CHANNEL}', id) from switched`,
      [input.agentId, input.ownerId, input.expected, input.next, input.now],
    );
    if (switched.length === 1) return true;
    await this.getAgent(input.ownerId, input.agentId);
    return false;
  }

  async getServingTarget(ownerId: string, agentId: string): Promise<ServingTarget> {
    const { rows } = await this.db.query(
      `select a.*, d.id as d_id, d.runtime as d_runtime, d.provider_ref as d_provider_ref
       from agents a left join deployments d on d.id = a.active_deployment_id
       where a.id = $1 and a.owner_id = $2 and a.status = 'active'`,
      [agentId, ownerId],
    );
    const r = rows[0];
    if (!r) throw notFound('agent');
    const deployment =
      r.d_id && r.d_provider_ref
        ? { id: r.d_id as string, runtime: r.d_runtime as Agent['runtime'], providerRef: r.d_provider_ref as string }
        : null;
    return { agent: toAgent(r), deployment };
  }

  watchServing(onChange: (agentId: string) => void): Promise<() => Promise<void>> {
    return this.db.listen(SERVING_CHANNEL, onChange, () => onChange('*'));
  }

  async beginIdempotent(input: { ownerId: string; key: string; requestHash: string; now: Date }): Promise<IdempotencyBegin> {
    const inserted = await this.db.query(
      `insert into idempotency_records (owner_id, key, request_hash, created_at) values ($1, $2, $3, $4)
       on conflict (owner_id, key) do nothing`,
      [input.ownerId, input.key, input.requestHash, input.now],
    );
    if (inserted.rowCount === 1) return { state: 'new' };
    const { rows } = await this.db.query<{ request_hash: string; status: number | null; body: unknown }>(
      `select request_hash, status, body from idempotency_records where owner_id = $1 and key = $2`,
      [input.ownerId, input.key],
    );
    const r = rows[0];
    if (!r) return this.beginIdempotent(input); // abandoned between our insert and read
    if (r.request_hash !== input.requestHash) return { state: 'mismatch' };
    if (r.status === null) return { state: 'in_progress' };
    return { state: 'done', status: r.status, body: json(r.body) };
  }

  async completeIdempotent(input: { ownerId: string; key: string; status: number; body: unknown }): Promise<void> {
    await this.db.query(`update idempotency_records set status = $3, body = $4 where owner_id = $1 and key = $2`, [
      input.ownerId,
      input.key,
      input.status,
      JSON.stringify(input.body),
    ]);
  }

  async abandonIdempotent(input: { ownerId: string; key: string }): Promise<void> {
    await this.db.query(`delete from idempotency_records where owner_id = $1 and key = $2 and status is null`, [input.ownerId, input.key]);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

async function lockAgent(tx: SqlExecutor, ownerId: string, agentId: string): Promise<Agent> {
  const { rows } = await tx.query(`select * from agents where id = $1 and owner_id = $2 and status = 'active' for update`, [agentId, ownerId]);
  if (!rows[0]) throw notFound('agent');
  return toAgent(rows[0]);
}

async function migrate(db: SqlClient): Promise<void> {
  await db.query(`create table if not exists schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())`);
  // An advisory lock keeps two processes starting at once from applying the same migration.
  await db.transaction(async (tx) => {
    await tx.query(`select pg_advisory_xact_lock(${lockKey('webhost.migrations')})`);
    const { rows } = await tx.query<{ version: number }>('select version from schema_migrations');
    const applied = new Set(rows.map((r) => Number(r.version)));
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.query('insert into schema_migrations (version, name) values ($1, $2)', [m.version, m.name]);
    }
  });
}

function lockKey(name: string): string {
  return BigInt.asIntN(64, BigInt('0x' + createHash('sha256').update(name).digest('hex').slice(0, 16))).toString();
}
