import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, type Store } from '../../lib/store/index.js';

export interface StoreFactory {
  name: string;
  open(): Promise<Store>;
  /** Drops what `open` made; called once after the file's tests. */
  cleanup(): Promise<void>;
}

const PG_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * PGlite always; the PostgreSQL server too when it answers. Outside CI an unreachable
 * server is reported, not silently passed; in CI (`CI=true`) it is an error.
 */
export async function storeFactories(): Promise<StoreFactory[]> {
  const factories: StoreFactory[] = [{ name: 'pglite', open: () => openStore({ kind: 'pglite', dataDir: undefined }), cleanup: async () => {} }];
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await admin.connect();
  } catch (err) {
    const why = `PostgreSQL at ${PG_ADMIN_URL} is not reachable (${(err as Error).message})`;
    if (process.env.CI) throw new Error(`${why}; CI must provide it`);
    console.warn(`SKIPPING the PostgreSQL adapter: ${why}`);
    return factories;
  }
  const made: string[] = [];
  factories.push({
    name: 'postgres',
    async open() {
      const db = `webhost_test_${randomBytes(6).toString('hex')}`;
      await admin.query(`create database ${db}`);
      made.push(db);
      const url = new URL(PG_ADMIN_URL);
      url.pathname = `/${db}`;
      return openStore({ kind: 'postgres', url: url.toString() });
    },
    async cleanup() {
      for (const db of made) await admin.query(`drop database if exists ${db} with (force)`);
      await admin.end();
    },
  });
  return factories;
}
