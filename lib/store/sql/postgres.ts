import pg from 'pg';
import type { SqlClient } from './client.js';

/** A PostgreSQL server through a connection pool (`DATABASE_URL`). */
export async function openPostgres(connectionString: string, max = 10): Promise<SqlClient> {
  const pool = new pg.Pool({ connectionString, max });
  // An idle connection the server drops (restart, failover) must not take the process down;
  // the pool replaces it on the next checkout.
  pool.on('error', (err) => console.warn(`postgres: idle connection lost: ${err.message}`));
  // Fail at start, with the server's own message, rather than on the first request.
  const probe = await pool.connect();
  probe.release();
  return {
    async query<T>(sql: string, params?: unknown[]) {
      const r = await pool.query(sql, params);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
    },
    async exec(sql: string) {
      await pool.query(sql);
    },
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const result = await fn({
          async exec(sql: string) {
            await client.query(sql);
          },
          async query<T>(sql: string, params?: unknown[]) {
            const r = await client.query(sql, params);
            return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
          },
        });
        await client.query('commit');
        return result;
      } catch (err) {
        await client.query('rollback').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    async listen(channel, onPayload, onReset) {
      if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
      let client: pg.Client | null = null;
      let closed = false;
      // A dedicated connection holds the LISTEN; when it drops, listen again and tell the
      // subscriber that it may have missed notifications.
      const connect = async (): Promise<void> => {
        const c = new pg.Client({ connectionString });
        c.on('notification', (msg) => msg.channel === channel && onPayload(msg.payload ?? ''));
        c.on('error', () => undefined);
        c.once('end', () => {
          if (closed) return;
          onReset();
          setTimeout(() => void connect().catch(() => undefined), 1000).unref();
        });
        await c.connect();
        await c.query(`listen ${channel}`);
        client = c;
      };
      await connect();
      return async () => {
        closed = true;
        await client?.end();
      };
    },
    close: () => pool.end(),
  };
}
