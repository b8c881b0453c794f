import { createHash } from 'node:crypto';
import { AppError, DEPLOYMENT_TRANSITIONS as TRANSITIONS, isFinal, notFound } from '../contracts/index.js';
import type {
  Agent,
  ApiKey,
  AuditEntry,
  BillingPeriod,
  BillingState,
  Deployment,
  DeploymentStatus,
  FilesSource,
  HourlyMetric,
  Page,
  PageQuery,
  Period,
  PeriodUsage,
  SecretMetadata,
  StepLogEntry,
  StoredTelemetryEvent,
  TelemetryEvent,
  Tier,
  User,
} from '../contracts/index.js';
import { newId } from '../ids.js';
import { migrations } from './migrations.js';
import type { IdempotencyBegin, ServingTarget, Store, StoreChange, TransitionInput } from './port.js';
import { isUniqueViolation, type SqlClient, type SqlExecutor } from './sql-client.js';


type Row = Record<string, unknown>;

/** NOTIFY channel for changes to which deployment serves an agent; the payload is the agent id. */
const SERVING_CHANNEL = 'webhost_serving';
/** NOTIFY channel for the dashboard's live updates; the payload is a `StoreChange` as JSON. */
const CHANGES_CHANNEL = 'webhost_changes';

const n = (v: unknown): number => Number(v ?? 0);
const totalsOf = (r: Row) => ({
  requests: n(r.requests),
  errors: n(r.errors),
  durationMs: n(r.duration_ms),
  inputBytes: n(r.input_bytes),
  outputBytes: n(r.output_bytes),
});

function toUser(r: Row): User {
  return {
    id: r.id as string,
    tier: r.tier as Tier,
    defaultRuntime: r.default_runtime as User['defaultRuntime'],
    billing: {
      customerId: (r.billing_customer_id as string | null) ?? null,
      subscriptionId: (r.billing_subscription_id as string | null) ?? null,
      subscriptionItemId: (r.billing_subscription_item_id as string | null) ?? null,
      status: (r.billing_status as string | null) ?? null,
    },
    createdAt: iso(r.created_at),
  };
}

const toSecret = (r: Row): SecretMetadata => ({ agentId: r.agent_id as string, name: r.name as string, version: n(r.version), updatedAt: iso(r.updated_at) });

const toApiKey = (r: Row): ApiKey => ({
  id: r.id as string,
  ownerId: r.owner_id as string,
  name: r.name as string,
  prefix: r.prefix as string,
  createdAt: iso(r.created_at),
  revokedAt: isoOrNull(r.revoked_at),
});

const toAudit = (r: Row): AuditEntry => ({
  id: r.id as string,
  ownerId: r.owner_id as string,
  actor: r.actor as string,
  action: r.action as string,
  targetType: r.target_type as string,
  targetId: r.target_id as string,
  details: json<Record<string, unknown> | null>(r.details) ?? null,
  at: iso(r.at),
});

const toEvent = (r: Row): StoredTelemetryEvent => ({
  id: r.id as string,
  agentId: r.agent_id as string,
  deploymentId: r.deployment_id as string,
  at: iso(r.at),
  kind: 'request',
  ok: r.ok as boolean,
  durationMs: n(r.duration_ms),
  inputBytes: n(r.input_bytes),
  outputBytes: n(r.output_bytes),
});

const BILLING_COLUMNS: Record<keyof BillingState, string> = {
  customerId: 'billing_customer_id',
  subscriptionId: 'billing_subscription_id',
  subscriptionItemId: 'billing_subscription_item_id',
  status: 'billing_status',
};

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
      await this.notifyChange({ ownerId: input.ownerId, kind: 'agent', id: input.id });
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
      await this.notifyChange({ ownerId: input.ownerId, kind: 'agent', id: input.agentId });
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
      await tx.query(`select pg_notify('${CHANGES_CHANNEL}', $1)`, [JSON.stringify({ ownerId: input.ownerId, kind: 'agent', id: agent.id } satisfies StoreChange)]);
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
        await tx.query(`select pg_notify('${CHANGES_CHANNEL}', $1)`, [JSON.stringify({ ownerId: input.ownerId, kind: 'deployment', id: input.id } satisfies StoreChange)]);
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
    if (rows[0]) {
      await this.notifyChange({ ownerId: input.ownerId, kind: 'deployment', id: input.deploymentId });
      return toDeployment(rows[0]);
    }
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
    await this.notifyChange({ ownerId: input.ownerId, kind: 'deployment', id: input.deploymentId });
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
    if (switched.length === 1) {
      await this.notifyChange({ ownerId: input.ownerId, kind: 'agent', id: input.agentId });
      return true;
    }
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


  // ── users ──────────────────────────────────────────────────────────────────────────

  async getUser(userId: string): Promise<User> {
    const { rows } = await this.db.query('select * from users where id = $1', [userId]);
    if (!rows[0]) throw notFound('user');
    return toUser(rows[0]);
  }

  async setUserTier(input: { userId: string; tier: Tier; now: Date }): Promise<User> {
    const { rows } = await this.db.query('update users set tier = $2 where id = $1 returning *', [input.userId, input.tier]);
    if (!rows[0]) throw notFound('user');
    return toUser(rows[0]);
  }

  async setUserBilling(input: { userId: string; billing: Partial<BillingState>; now: Date }): Promise<User> {
    const keys = (Object.keys(BILLING_COLUMNS) as (keyof BillingState)[]).filter((k) => k in input.billing);
    if (keys.length === 0) return this.getUser(input.userId);
    const sets = keys.map((k, i) => `${BILLING_COLUMNS[k]} = $${i + 2}`).join(', ');
    const { rows } = await this.db.query(`update users set ${sets} where id = $1 returning *`, [input.userId, ...keys.map((k) => input.billing[k] ?? null)]);
    if (!rows[0]) throw notFound('user');
    return toUser(rows[0]);
  }

  // ── secret metadata ────────────────────────────────────────────────────────────────

  async putSecretMetadata(input: { ownerId: string; agentId: string; name: string; now: Date }): Promise<SecretMetadata> {
    const { rows } = await this.db.query(
      `insert into secret_metadata (owner_id, agent_id, name, version, updated_at)
       select owner_id, id, $3, 1, $4 from agents where id = $2 and owner_id = $1 and status = 'active'
       on conflict (agent_id, name) do update set version = secret_metadata.version + 1, updated_at = excluded.updated_at
       returning agent_id, name, version, updated_at`,
      [input.ownerId, input.agentId, input.name, input.now],
    );
    if (!rows[0]) throw notFound('agent');
    return toSecret(rows[0]);
  }

  async listSecretMetadata(ownerId: string, agentId: string): Promise<SecretMetadata[]> {
    await this.getAgent(ownerId, agentId);
    const { rows } = await this.db.query(`select agent_id, name, version, updated_at from secret_metadata where agent_id = $1 and owner_id = $2 order by name`, [agentId, ownerId]);
    return rows.map(toSecret);
  }

  async deleteSecretMetadata(input: { ownerId: string; agentId: string; name: string }): Promise<void> {
    const { rowCount } = await this.db.query(`delete from secret_metadata where owner_id = $1 and agent_id = $2 and name = $3`, [input.ownerId, input.agentId, input.name]);
    if (rowCount === 0) throw notFound('secret');
  }

  // ── API keys ───────────────────────────────────────────────────────────────────────

  async createApiKey(input: { id: string; ownerId: string; name: string; prefix: string; hash: string; now: Date }): Promise<ApiKey> {
    try {
      const { rows } = await this.db.query(
        `insert into api_keys (id, owner_id, name, prefix, hash, created_at) values ($1, $2, $3, $4, $5, $6)
         returning id, owner_id, name, prefix, created_at, revoked_at`,
        [input.id, input.ownerId, input.name, input.prefix, input.hash, input.now],
      );
      return toApiKey(rows[0]!);
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('conflict', 'an API key with this id or hash exists');
      throw err;
    }
  }

  async listApiKeys(ownerId: string): Promise<ApiKey[]> {
    const { rows } = await this.db.query(`select id, owner_id, name, prefix, created_at, revoked_at from api_keys where owner_id = $1 order by created_at, id`, [ownerId]);
    return rows.map(toApiKey);
  }

  async revokeApiKey(input: { ownerId: string; id: string; now: Date }): Promise<ApiKey> {
    const { rows } = await this.db.query(
      `update api_keys set revoked_at = coalesce(revoked_at, $3) where id = $1 and owner_id = $2
       returning id, owner_id, name, prefix, created_at, revoked_at`,
      [input.id, input.ownerId, input.now],
    );
    if (!rows[0]) throw notFound('API key');
    return toApiKey(rows[0]);
  }

  async findApiKeyByHash(hash: string): Promise<{ id: string; ownerId: string } | null> {
    const { rows } = await this.db.query<{ id: string; owner_id: string }>(`select id, owner_id from api_keys where hash = $1 and revoked_at is null`, [hash]);
    return rows[0] ? { id: rows[0].id, ownerId: rows[0].owner_id } : null;
  }

  // ── telemetry and usage ────────────────────────────────────────────────────────────

  async ingestTelemetry(input: { ownerId: string; agentId: string; deploymentId: string; events: TelemetryEvent[] }): Promise<{ accepted: number; duplicates: number }> {
    return this.db.transaction(async (tx) => {
      const { rows: deps } = await tx.query<{ runtime: string }>(
        `select d.runtime from deployments d join agents a on a.id = d.agent_id
         where d.id = $1 and d.agent_id = $2 and d.owner_id = $3 and a.owner_id = $3`,
        [input.deploymentId, input.agentId, input.ownerId],
      );
      if (!deps[0]) throw notFound('deployment');
      // One statement: new events are inserted (duplicates skipped by id) and only the rows
      // actually inserted feed the hourly and period aggregates.
      const { rows } = await tx.query<{ accepted: number }>(
        `with inserted as (
           insert into telemetry_events (id, owner_id, agent_id, deployment_id, runtime, at, kind, ok, duration_ms, input_bytes, output_bytes)
           select e.id, $1, $2, $3, $4, e.at, e.kind, e.ok, e."durationMs", e."inputBytes", e."outputBytes"
           from jsonb_to_recordset($5::jsonb) as e(id text, at timestamptz, kind text, ok boolean, "durationMs" double precision, "inputBytes" bigint, "outputBytes" bigint)
           on conflict (deployment_id, id) do nothing
           returning at, ok, duration_ms, input_bytes, output_bytes
         ),
         hourly as (
           insert into hourly_metrics as h (owner_id, agent_id, hour, requests, errors, duration_ms, input_bytes, output_bytes)
           select $1, $2, date_trunc('hour', at at time zone 'UTC') at time zone 'UTC', count(*), count(*) filter (where not ok), sum(duration_ms), sum(input_bytes), sum(output_bytes)
           from inserted group by 3
           on conflict (agent_id, hour) do update set
             requests = h.requests + excluded.requests, errors = h.errors + excluded.errors, duration_ms = h.duration_ms + excluded.duration_ms,
             input_bytes = h.input_bytes + excluded.input_bytes, output_bytes = h.output_bytes + excluded.output_bytes
         ),
         period as (
           insert into usage as u (owner_id, period, runtime, requests, errors, duration_ms, input_bytes, output_bytes)
           select $1, to_char(at at time zone 'UTC', 'YYYY-MM'), $4, count(*), count(*) filter (where not ok), sum(duration_ms), sum(input_bytes), sum(output_bytes)
           from inserted group by 2
           on conflict (owner_id, period, runtime) do update set
             requests = u.requests + excluded.requests, errors = u.errors + excluded.errors, duration_ms = u.duration_ms + excluded.duration_ms,
             input_bytes = u.input_bytes + excluded.input_bytes, output_bytes = u.output_bytes + excluded.output_bytes
         )
         select count(*)::int as accepted from inserted`,
        [input.ownerId, input.agentId, input.deploymentId, deps[0].runtime, JSON.stringify(input.events)],
      );
      const accepted = n(rows[0]?.accepted);
      return { accepted, duplicates: input.events.length - accepted };
    });
  }

  async listTelemetryEvents(input: { ownerId: string; agentId: string } & PageQuery): Promise<Page<StoredTelemetryEvent>> {
    await this.getAgent(input.ownerId, input.agentId);
    const after = decodeCursor<string>(input.cursor, 'string');
    const [atCursor, idCursor] = after ? after.split('|') : [null, null];
    const { rows } = await this.db.query(
      `select * from telemetry_events where owner_id = $1 and agent_id = $2
         and ($3::timestamptz is null or (at, id) < ($3::timestamptz, $4::text))
       order by at desc, id desc limit $5`,
      [input.ownerId, input.agentId, atCursor ?? null, idCursor ?? null, input.limit + 1],
    );
    return page(rows.map(toEvent), input.limit, (e) => `${e.at}|${e.id}`);
  }

  async listHourlyMetrics(input: { ownerId: string; agentId: string; from: Date; to: Date }): Promise<HourlyMetric[]> {
    await this.getAgent(input.ownerId, input.agentId);
    const { rows } = await this.db.query(
      `select * from hourly_metrics where owner_id = $1 and agent_id = $2 and hour >= $3 and hour < $4 order by hour`,
      [input.ownerId, input.agentId, input.from, input.to],
    );
    return rows.map((r) => ({ agentId: r.agent_id as string, hour: iso(r.hour), ...totalsOf(r) }));
  }

  async getUsage(input: { ownerId: string; period: Period }): Promise<PeriodUsage[]> {
    const { rows } = await this.db.query(`select * from usage where owner_id = $1 and period = $2 order by runtime`, [input.ownerId, input.period]);
    return rows.map((r) => ({ ownerId: r.owner_id as string, period: r.period as string, runtime: r.runtime as PeriodUsage['runtime'], ...totalsOf(r) }));
  }

  async deleteTelemetryBefore(input: { tier: Tier; cutoff: Date; limit: number }): Promise<{ deleted: number }> {
    const { rows } = await this.db.query<{ deleted: number }>(
      `with doomed as (
         select e.deployment_id, e.id from telemetry_events e join users u on u.id = e.owner_id
         where u.tier = $1 and e.at < $2
         order by e.at limit $3
       ),
       gone as (delete from telemetry_events where (deployment_id, id) in (select deployment_id, id from doomed) returning 1)
       select count(*)::int as deleted from gone`,
      [input.tier, input.cutoff, input.limit],
    );
    return { deleted: n(rows[0]?.deleted) };
  }

  // ── billing periods and webhooks ───────────────────────────────────────────────────

  async getBillingPeriod(input: { ownerId: string; period: Period }): Promise<BillingPeriod> {
    const { rows } = await this.db.query(`select * from billing_periods where owner_id = $1 and period = $2`, [input.ownerId, input.period]);
    const r = rows[0];
    if (!r) return { ownerId: input.ownerId, period: input.period, status: 'open', totals: null, usageReportId: null, closedAt: null };
    return {
      ownerId: r.owner_id as string,
      period: r.period as string,
      status: r.status as BillingPeriod['status'],
      totals: r.status === 'closed' ? totalsOf(r) : null,
      usageReportId: (r.usage_report_id as string | null) ?? null,
      closedAt: isoOrNull(r.closed_at),
    };
  }

  async closeBillingPeriod(input: { ownerId: string; period: Period; now: Date }): Promise<{ period: BillingPeriod; closedNow: boolean }> {
    await this.getUser(input.ownerId);
    const closedNow = await this.db.transaction(async (tx) => {
      await tx.query(`insert into billing_periods (owner_id, period, status) values ($1, $2, 'open') on conflict do nothing`, [input.ownerId, input.period]);
      // The row lock makes a concurrent close wait, then see 'closed' and change nothing.
      const { rows } = await tx.query(
        `update billing_periods b set status = 'closed', closed_at = $3,
           requests = t.requests, errors = t.errors, duration_ms = t.duration_ms, input_bytes = t.input_bytes, output_bytes = t.output_bytes
         from (select coalesce(sum(requests), 0) as requests, coalesce(sum(errors), 0) as errors, coalesce(sum(duration_ms), 0) as duration_ms,
                      coalesce(sum(input_bytes), 0) as input_bytes, coalesce(sum(output_bytes), 0) as output_bytes
               from usage where owner_id = $1 and period = $2) t
         where b.owner_id = $1 and b.period = $2 and b.status = 'open'
         returning b.owner_id`,
        [input.ownerId, input.period, input.now],
      );
      return rows.length === 1;
    });
    return { period: await this.getBillingPeriod(input), closedNow };
  }

  async recordUsageReport(input: { ownerId: string; period: Period; reportId: string; now: Date }): Promise<boolean> {
    const { rows } = await this.db.query(
      `update billing_periods set usage_report_id = $3, reported_at = $4
       where owner_id = $1 and period = $2 and status = 'closed' and usage_report_id is null returning 1 as ok`,
      [input.ownerId, input.period, input.reportId, input.now],
    );
    if (rows.length === 1) return true;
    const current = await this.getBillingPeriod(input);
    if (current.status !== 'closed') throw new AppError('conflict', `billing period ${input.period} is not closed`);
    return false;
  }

  async recordWebhookEvent(input: { provider: string; eventId: string; eventName: string; now: Date }): Promise<boolean> {
    const { rows } = await this.db.query(
      `insert into webhook_events (provider, event_id, event_name, received_at) values ($1, $2, $3, $4)
       on conflict (provider, event_id) do nothing returning 1 as ok`,
      [input.provider, input.eventId, input.eventName, input.now],
    );
    return rows.length === 1;
  }

  // ── audit log ──────────────────────────────────────────────────────────────────────

  async appendAudit(input: Omit<AuditEntry, 'id' | 'at' | 'details'> & { details?: Record<string, unknown>; now: Date }): Promise<void> {
    await this.db.query(
      `insert into audit_log (id, owner_id, actor, action, target_type, target_id, details, at) values ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [newId('aud'), input.ownerId, input.actor, input.action, input.targetType, input.targetId, input.details ? JSON.stringify(input.details) : null, input.now],
    );
  }

  async listAudit(ownerId: string, q: PageQuery): Promise<Page<AuditEntry>> {
    const after = decodeCursor<string>(q.cursor, 'string');
    const { rows } = await this.db.query(
      `select * from audit_log where owner_id = $1 and ($2::text is null or id < $2) order by id desc limit $3`,
      [ownerId, after ?? null, q.limit + 1],
    );
    return page(rows.map(toAudit), q.limit, (e) => e.id);
  }

  // ── live updates ───────────────────────────────────────────────────────────────────

  watchChanges(onChange: (change: StoreChange) => void): Promise<() => Promise<void>> {
    return this.db.listen(
      CHANGES_CHANNEL,
      (payload) => onChange(JSON.parse(payload) as StoreChange),
      // Missed changes cannot be replayed: watchers re-read everything they show.
      () => onChange({ ownerId: '*', kind: 'agent', id: '*' }),
    );
  }

  private async notifyChange(change: StoreChange): Promise<void> {
    await this.db.query(`select pg_notify('${CHANGES_CHANNEL}', $1)`, [JSON.stringify(change)]);
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
