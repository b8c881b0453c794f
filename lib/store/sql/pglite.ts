import { PGlite } from '@electric-sql/pglite';
import type { SqlClient, SqlExecutor } from './client.js';

/** Embedded PostgreSQL (WASM) with its data in `dataDir`, or in memory when it is undefined. */
export async function openPglite(dataDir: string | undefined): Promise<SqlClient> {
  const db = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
  const wrap = (q: Pick<PGlite, 'query' | 'exec'>): SqlExecutor => ({
    async exec(sql: string) {
      await q.exec(sql);
    },
    async query<T>(sql: string, params?: unknown[]) {
      const r = await q.query<T>(sql, params);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
  });
  return {
    ...wrap(db),
    transaction: (fn) => db.transaction((tx) => fn(wrap(tx))),
    // One in-process database: notifications are never lost, so onReset is never needed.
    listen: async (channel, onPayload) => {
      const unlisten = await db.listen(channel, onPayload);
      return () => unlisten();
    },
    close: () => db.close(),
  };
}
