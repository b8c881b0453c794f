import { z } from 'zod';
import type { AuditEntry } from '../../contracts/index.js';
import { newId } from '../../ids.js';
import { decodeCursor, pageOfRows } from '../paging.js';
import type { AppendAuditInput, AuditStore } from '../port/index.js';
import type { SqlClient, SqlExecutor } from './client.js';
import { iso, json, type Row } from './rows.js';

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

/** Appends one entry; takes a transaction, so a change and its entry commit together. */
export async function insertAudit(db: SqlExecutor, input: AppendAuditInput): Promise<void> {
  await db.query(
    `insert into audit_log (id, owner_id, actor, action, target_type, target_id, details, at) values ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      newId('aud'),
      input.ownerId,
      input.actor,
      input.action,
      input.targetType,
      input.targetId,
      input.details ? JSON.stringify(input.details) : null,
      input.now,
    ],
  );
}

export function sqlAudit(db: SqlClient): AuditStore {
  return {
    appendAudit: (input) => insertAudit(db, input),

    async listAudit(ownerId, q) {
      const after = decodeCursor(q.cursor, z.string());
      const { rows } = await db.query(
        `select * from audit_log where owner_id = $1 and ($2::text is null or id < $2) order by id desc limit $3`,
        [ownerId, after ?? null, q.limit + 1],
      );
      return pageOfRows(rows.map(toAudit), q.limit, (e) => e.id);
    },
  };
}
