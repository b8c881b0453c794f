import { z } from 'zod';
import { notFound, type PeriodUsage, type StoredTelemetryEvent } from '../../contracts/index.js';
import { decodeCursor, pageOfRows } from '../paging.js';
import type { UsageStore } from '../port/index.js';
import type { SqlClient } from './client.js';
import { activeAgent, iso, n, totalsOf, type Row } from './rows.js';

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

/** Events page newest first by (time, id). */
const EventKey = z.object({ at: z.iso.datetime(), id: z.string() });

export function sqlUsage(db: SqlClient): UsageStore {
  return {
    ingestTelemetry(input) {
      return db.transaction(async (tx) => {
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
    },

    async listTelemetryEvents(input) {
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
        `select * from hourly_metrics where owner_id = $1 and agent_id = $2 and hour >= $3 and hour < $4 order by hour`,
        [input.ownerId, input.agentId, input.from, input.to],
      );
      return rows.map((r) => ({ agentId: r.agent_id as string, hour: iso(r.hour), ...totalsOf(r) }));
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
