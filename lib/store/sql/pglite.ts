import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { SqlClient, SqlExecutor } from './client.js';

/**
 * Embedded PostgreSQL (WASM) with its data in `dataDir`, or in memory when it is undefined.
 * PGlite admits one process: a second one opening the same folder would corrupt it, so the
 * folder is locked while it is open (a lock left by a process that died is taken over).
 */
export async function openPglite(dataDir: string | undefined): Promise<SqlClient> {
  const unlock = dataDir ? lockFolder(dataDir) : () => undefined;
  let db: PGlite;
  try {
    db = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
  } catch (err) {
    unlock();
    throw err;
  }
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
    close: async () => {
      try {
        await db.close();
      } finally {
        unlock();
      }
    },
  };
}

/** Takes `<dataDir>.lock` (beside the database's folder, not in it) for this process; returns its release. */
function lockFolder(dataDir: string): () => void {
  mkdirSync(dirname(dataDir), { recursive: true });
  const lock = `${dataDir.replace(/\/+$/, '')}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(lock, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && alive(holder)) {
        throw new Error(
          `the PGlite database in ${dataDir} is open in ${holder === process.pid ? 'this process' : `process ${holder}`}; ` +
            'stop that first (or point both at one PostgreSQL server with DATABASE_URL)',
        );
      }
      rmSync(lock, { force: true }); // left by a process that is gone
    }
  }
  throw new Error(`could not lock ${lock}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
