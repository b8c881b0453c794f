import { randomBytes } from 'node:crypto';
import pg from 'pg';

const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestPostgres {
  /** Creates an empty database and returns its URL; `close` drops it. */
  createDatabase(prefix: string): Promise<string>;
  /** Drops every database this made and closes the admin connection. */
  close(): Promise<void>;
}

/**
 * The PostgreSQL server on 127.0.0.1:5432 (or `TEST_POSTGRES_URL`) for tests and benches,
 * each run in throwaway databases. Null when it does not answer — which `what` reports on
 * stderr rather than passing silently, and which fails in CI (`CI=true`), where it must be up.
 */
export async function connectTestPostgres(what: string): Promise<TestPostgres | null> {
  const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch (err) {
    const why = `PostgreSQL at ${ADMIN_URL} is not reachable (${(err as Error).message})`;
    if (process.env.CI) throw new Error(`${why}; CI must provide it`);
    console.warn(`SKIPPING ${what}: ${why}`);
    return null;
  }
  const made: string[] = [];
  return {
    async createDatabase(prefix) {
      const name = `${prefix}_${randomBytes(6).toString('hex')}`;
      await admin.query(`create database ${name}`);
      made.push(name);
      const url = new URL(ADMIN_URL);
      url.pathname = `/${name}`;
      return url.toString();
    },
    async close() {
      for (const name of made) await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
