import { z } from 'zod';
import {
  droppedLineId,
  droppedMessage,
  LOGS_PER_AGENT_MAX,
  notFound,
  type LogLevel,
  type LogLine,
} from '../../contracts/index.js';
import { decodeCursor, pageOfRows } from '../paging.js';
import type { LogStore } from '../port/index.js';
import type { SqlClient } from './client.js';
import { activeAgent, iso, n, type Row } from './rows.js';

const toLine = (r: Row): LogLine => ({
  seq: n(r.seq),
  id: r.id as string,
  deploymentId: r.deployment_id as string,
  at: iso(r.at),
  level: r.level as LogLevel,
  message: r.message as string,
  requestId: (r.request_id as string | null) ?? null,
  sessionId: (r.session_id as string | null) ?? null,
  dropped: n(r.dropped),
});

/** A page of lines, newest first, by seq. */
const LineKey = z.object({ seq: z.number().int().nonnegative() });

/**
 * New lines of the batch (an id the deployment already has is skipped), numbered after the
 * agent's counter in batch order; the counter's row is locked by the caller.
 */
const INSERT = `
  with input as (
    select * from jsonb_to_recordset($1::jsonb) as x(ord integer, id text, at timestamptz, level text, message text, request_id text, session_id text, dropped integer)
  ),
  fresh as (
    select i.* from input i
    where not exists (select 1 from log_lines k where k.deployment_id = $4 and k.id = i.id)
  )
  insert into log_lines (agent_id, seq, id, owner_id, deployment_id, at, level, message, request_id, session_id, dropped)
  select $2, $5::bigint + row_number() over (order by ord), id, $3, $4, at, level, message, request_id, session_id, coalesce(dropped, 0)
  from fresh
  returning seq`;

export function sqlLogs(db: SqlClient): LogStore {
  return {
    appendLogs(input) {
      const rows = input.lines.map((l) => ({
        id: l.id,
        at: l.at,
        level: l.level,
        message: l.message,
        request_id: l.requestId ?? null,
        session_id: l.sessionId ?? null,
        dropped: 0,
      }));
      if (input.dropped > 0) {
        // before the batch's lines: they were written after the ones that were dropped
        rows.unshift({
          id: droppedLineId(input.lines[0]!.id),
          at: input.lines[0]!.at,
          level: 'warn',
          message: droppedMessage(input.dropped),
          request_id: null,
          session_id: null,
          dropped: input.dropped,
        });
      }
      return db.transaction(async (tx) => {
        const { rows: deps } = await tx.query(
          `select 1 from deployments d join agents a on a.id = d.agent_id
           where d.id = $1 and d.agent_id = $2 and d.owner_id = $3 and a.owner_id = $3`,
          [input.deploymentId, input.agentId, input.ownerId],
        );
        if (!deps[0]) throw notFound('deployment');
        const { rows: counter } = await tx.query<{ seq: string | number }>(
          `insert into log_counters (agent_id, seq) values ($1, 0)
           on conflict (agent_id) do update set seq = log_counters.seq returning seq`,
          [input.agentId],
        );
        const base = n(counter[0]?.seq);
        const { rows: inserted } = await tx.query<{ seq: string | number }>(INSERT, [
          JSON.stringify(rows.map((r, ord) => ({ ord, ...r }))),
          input.agentId,
          input.ownerId,
          input.deploymentId,
          base,
        ]);
        const accepted = inserted.length;
        if (accepted > 0) {
          const top = base + accepted;
          await tx.query(`update log_counters set seq = $2 where agent_id = $1`, [input.agentId, top]);
          await tx.query(`delete from log_lines where agent_id = $1 and seq <= $2`, [
            input.agentId,
            top - LOGS_PER_AGENT_MAX,
          ]);
        }
        return { accepted, duplicates: rows.length - accepted };
      });
    },

    async listLogs(input) {
      await activeAgent(db, input.ownerId, input.agentId);
      const before = decodeCursor(input.cursor, LineKey);
      const { rows } = await db.query(
        `select * from log_lines where agent_id = $1 and owner_id = $2 and ($3::bigint is null or seq < $3::bigint)
         order by seq desc limit $4`,
        [input.agentId, input.ownerId, before?.seq ?? null, input.limit + 1],
      );
      return pageOfRows(rows.map(toLine), input.limit, (l) => ({ seq: l.seq }));
    },

    async listLogsAfter(input) {
      await activeAgent(db, input.ownerId, input.agentId);
      const { rows } = await db.query(
        `select * from log_lines where agent_id = $1 and owner_id = $2 and seq > $3 order by seq limit $4`,
        [input.agentId, input.ownerId, input.after, input.limit],
      );
      return rows.map(toLine);
    },

    async deleteLogsBefore(input) {
      const { rows } = await db.query<{ deleted: number }>(
        `with doomed as (
           select l.agent_id, l.seq from log_lines l join users u on u.id = l.owner_id
           where u.tier = $1 and l.at < $2
           order by l.at limit $3
         ),
         gone as (delete from log_lines where (agent_id, seq) in (select agent_id, seq from doomed) returning 1)
         select count(*)::int as deleted from gone`,
        [input.tier, input.cutoff, input.limit],
      );
      return { deleted: n(rows[0]?.deleted) };
    },
  };
}
