import { z } from 'zod';
import {
  notFound,
  periodBounds,
  type EndUserUsage,
  type PeriodUsage,
  type Runtime,
  type StoredUsageEvent,
} from '../../contracts/index.js';
import { decodeCursor, pageOfRows } from '../paging.js';
import type { UsageStore } from '../port/index.js';
import type { SqlClient, SqlExecutor } from './client.js';
import { activeAgent, iso, n, totalsOf, TOTAL_COLUMNS, type Row } from './rows.js';

const toEvent = (r: Row): StoredUsageEvent => ({
  id: r.id as string,
  agentId: r.agent_id as string,
  deploymentId: r.deployment_id as string,
  runtime: r.runtime as Runtime,
  at: iso(r.at),
  kind: r.kind as StoredUsageEvent['kind'],
  ok: r.ok as boolean,
  status: r.status == null ? null : n(r.status),
  durationMs: n(r.duration_ms),
  computeMs: n(r.compute_ms),
  inputBytes: n(r.input_bytes),
  outputBytes: n(r.output_bytes),
  inputTokens: n(r.input_tokens),
  outputTokens: n(r.output_tokens),
  sessionId: (r.session_id as string | null) ?? null,
  endUser: (r.end_user as string | null) ?? null,
});

/** Events page newest first by (time, id). */
const EventKey = z.object({ at: z.iso.datetime(), id: z.string() });

/** An event row as `ingest` takes it. */
interface EventRow {
  id: string;
  owner_id: string;
  agent_id: string;
  deployment_id: string;
  runtime: Runtime;
  at: string;
  kind: StoredUsageEvent['kind'];
  ok: boolean;
  status: number | null;
  duration_ms: number;
  compute_ms: number;
  input_bytes: number;
  output_bytes: number;
  input_tokens: number;
  output_tokens: number;
  session_id: string | null;
  end_user: string | null;
  api_key_id: string | null;
}

const COLUMNS =
  'id, owner_id, agent_id, deployment_id, runtime, at, kind, ok, status, duration_ms, compute_ms, input_bytes, output_bytes, input_tokens, output_tokens, session_id, end_user, api_key_id';
const RECORD =
  'id text, owner_id text, agent_id text, deployment_id text, runtime text, at timestamptz, kind text, ok boolean, status integer, duration_ms double precision, compute_ms double precision, input_bytes bigint, output_bytes bigint, input_tokens bigint, output_tokens bigint, session_id text, end_user text, api_key_id text';
const addUp = (table: string, cols: readonly string[]) =>
  cols.map((c) => `${c} = ${table}.${c} + excluded.${c}`).join(', ');

/**
 * One statement: new events are inserted (an id already stored for the deployment is skipped)
 * and only the rows actually inserted feed the aggregates, each quantity from its one source
 * (lib/contracts/usage.ts, `totalsOfEvent`). Aggregate rows are written in key order, so
 * concurrent batches take their locks in the same order.
 */
const INGEST = `
  with inserted as (
    insert into telemetry_events (${COLUMNS})
    select ${COLUMNS} from jsonb_to_recordset($1::jsonb) as e(${RECORD})
    on conflict (deployment_id, id) do nothing
    returning *
  ),
  c as (
    select owner_id, agent_id, runtime, at, end_user,
      (kind = 'request')::int as requests,
      (not ok and kind <> 'invocation')::int as errors,
      case when kind = 'request' then duration_ms else 0 end as duration_ms,
      case when kind = 'request' then 0 else compute_ms end as compute_ms,
      case when kind = 'request' then input_bytes else 0 end as input_bytes,
      case when kind = 'request' then output_bytes else 0 end as output_bytes,
      case when kind = 'invocation' then 0 else input_tokens end as input_tokens,
      case when kind = 'invocation' then 0 else output_tokens end as output_tokens
    from inserted
  ),
  hourly as (
    insert into hourly_metrics as h (owner_id, agent_id, runtime, hour, ${TOTAL_COLUMNS.join(', ')})
    select owner_id, agent_id, runtime, date_trunc('hour', at at time zone 'UTC') at time zone 'UTC' as hour, ${TOTAL_COLUMNS.map((s) => `sum(${s})`).join(', ')}
    from c group by owner_id, agent_id, runtime, 4 order by agent_id, hour, runtime
    on conflict (agent_id, hour, runtime) do update set ${addUp('h', TOTAL_COLUMNS)}
  ),
  period as (
    insert into usage as u (owner_id, period, runtime, ${TOTAL_COLUMNS.join(', ')})
    select owner_id, to_char(at at time zone 'UTC', 'YYYY-MM') as period, runtime, ${TOTAL_COLUMNS.map((s) => `sum(${s})`).join(', ')}
    from c group by owner_id, 2, runtime order by owner_id, period, runtime
    on conflict (owner_id, period, runtime) do update set ${addUp('u', TOTAL_COLUMNS)}
  ),
  end_users as (
    insert into end_user_usage as x (owner_id, period, end_user, requests, errors, input_tokens, output_tokens)
    select owner_id, to_char(at at time zone 'UTC', 'YYYY-MM') as period, end_user, sum(requests), sum(errors), sum(input_tokens), sum(output_tokens)
    from c where end_user is not null group by owner_id, 2, end_user order by owner_id, period, end_user
    on conflict (owner_id, period, end_user) do update set ${addUp('x', ['requests', 'errors', 'input_tokens', 'output_tokens'])}
  )
  select count(*)::int as accepted from inserted`;

/** PostgreSQL's SQLSTATE for a deadlock; the loser's transaction is rolled back whole. */
const DEADLOCK = '40P01';

async function ingest(db: SqlExecutor, rows: EventRow[]): Promise<{ accepted: number; duplicates: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const { rows: out } = await db.query<{ accepted: number }>(INGEST, [JSON.stringify(rows)]);
      const accepted = n(out[0]?.accepted);
      return { accepted, duplicates: rows.length - accepted };
    } catch (err) {
      if ((err as { code?: string }).code !== DEADLOCK || attempt === 3) throw err;
    }
  }
}

export function sqlUsage(db: SqlClient): UsageStore {
  return {
    recordRequests(events) {
      return ingest(
        db,
        events.map((e) => ({
          id: e.id,
          owner_id: e.ownerId,
          agent_id: e.agentId,
          deployment_id: e.deploymentId,
          runtime: e.runtime,
          at: e.at,
          kind: 'request',
          ok: e.status < 400,
          status: e.status,
          duration_ms: e.durationMs,
          compute_ms: 0,
          input_bytes: e.inputBytes,
          output_bytes: e.outputBytes,
          input_tokens: e.inputTokens,
          output_tokens: e.outputTokens,
          session_id: e.sessionId,
          end_user: e.endUser,
          api_key_id: e.apiKeyId,
        })),
      );
    },

    async ingestTelemetry(input) {
      const { rows: deps } = await db.query<{ runtime: Runtime }>(
        `select d.runtime from deployments d join agents a on a.id = d.agent_id
         where d.id = $1 and d.agent_id = $2 and d.owner_id = $3 and a.owner_id = $3`,
        [input.deploymentId, input.agentId, input.ownerId],
      );
      if (!deps[0]) throw notFound('deployment');
      const runtime = deps[0].runtime;
      return ingest(
        db,
        input.events.map((e) => ({
          id: e.id,
          owner_id: input.ownerId,
          agent_id: input.agentId,
          deployment_id: input.deploymentId,
          runtime,
          at: e.at,
          kind: e.kind,
          ok: e.ok,
          status: null,
          duration_ms: 0,
          compute_ms: e.computeMs,
          input_bytes: 0,
          output_bytes: 0,
          input_tokens: e.inputTokens ?? 0,
          output_tokens: e.outputTokens ?? 0,
          session_id: null,
          end_user: null,
          api_key_id: null,
        })),
      );
    },

    async listUsageEvents(input) {
      await activeAgent(db, input.ownerId, input.agentId);
      const after = decodeCursor(input.cursor, EventKey);
      const { rows } = await db.query(
        `select * from telemetry_events where owner_id = $1 and agent_id = $2
           and ($3::timestamptz is null or (at, id) < ($3::timestamptz, $4::text))
         order by at desc, id desc limit $5`,
        [input.ownerId, input.agentId, after?.at ?? null, after?.id ?? null, input.limit + 1],
      );
      return pageOfRows(rows.map(toEvent), input.limit, (e) => ({ at: e.at, id: e.id }));
    },

    async listHourlyMetrics(input) {
      await activeAgent(db, input.ownerId, input.agentId);
      const { rows } = await db.query(
        `select * from hourly_metrics where owner_id = $1 and agent_id = $2 and hour >= $3 and hour < $4 order by hour, runtime`,
        [input.ownerId, input.agentId, input.from, input.to],
      );
      return rows.map((r) => ({
        agentId: r.agent_id as string,
        runtime: r.runtime as Runtime,
        hour: iso(r.hour),
        ...totalsOf(r),
      }));
    },

    async getUsage(input) {
      const { rows } = await db.query(`select * from usage where owner_id = $1 and period = $2 order by runtime`, [
        input.ownerId,
        input.period,
      ]);
      return rows.map((r) => ({
        ownerId: r.owner_id as string,
        period: r.period as string,
        runtime: r.runtime as PeriodUsage['runtime'],
        ...totalsOf(r),
      }));
    },

    async getUsageByAgent(input) {
      const { start, end } = periodBounds(input.period);
      const { rows } = await db.query(
        `select agent_id, runtime, ${TOTAL_COLUMNS.map((s) => `sum(${s}) as ${s}`).join(', ')}
         from hourly_metrics where owner_id = $1 and hour >= $2 and hour < $3
         group by agent_id, runtime order by sum(requests) desc, agent_id, runtime`,
        [input.ownerId, start, end],
      );
      return rows.map((r) => ({ agentId: r.agent_id as string, runtime: r.runtime as Runtime, ...totalsOf(r) }));
    },

    async getUsageByEndUser(input) {
      const { rows } = await db.query(
        `select * from end_user_usage where owner_id = $1 and period = $2 order by requests desc, end_user limit $3`,
        [input.ownerId, input.period, input.limit],
      );
      return rows.map((r): EndUserUsage => ({
        endUser: r.end_user as string,
        requests: n(r.requests),
        errors: n(r.errors),
        inputTokens: n(r.input_tokens),
        outputTokens: n(r.output_tokens),
      }));
    },

    async deleteTelemetryBefore(input) {
      const { rows } = await db.query<{ deleted: number }>(
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
    },
  };
}
