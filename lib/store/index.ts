import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { convexHttpTransport, createConvexStore, type ConvexTransport } from './convex/index.js';
import type { Store } from './port/index.js';
import type { SqlClient } from './sql/client.js';
import { createSqlStore } from './sql/index.js';
import { migrate } from './sql/migrate.js';
import { openPglite } from './sql/pglite.js';
import { openPostgres } from './sql/postgres.js';
import { validatingStore } from './validate.js';

export type * from './port/index.js';
export { EVERY_AGENT, isReset, RESET_CHANGE } from './port/index.js';

export type StoreConfig =
  | { kind: 'pglite'; dataDir: string | undefined }
  | { kind: 'postgres'; url: string }
  /** A SQL connection the caller opened (benchmarks seed through it); migrated here. */
  | { kind: 'sql'; client: SqlClient }
  | ({ kind: 'convex'; serviceSecret: string } & ({ url: string } | { transport: ConvexTransport }));

/**
 * `CONVEX_URL` selects Convex (with `WEBHOST_SERVICE_SECRET`, which the deployment holds
 * too), `DATABASE_URL` a PostgreSQL server; otherwise PGlite with its data under `dataDir/pg`.
 */
export function storeConfigFromEnv(env: NodeJS.ProcessEnv, dataDir: string): StoreConfig {
  if (env.CONVEX_URL) {
    if (!env.WEBHOST_SERVICE_SECRET) {
      throw new Error('CONVEX_URL is set but WEBHOST_SERVICE_SECRET is not: Convex refuses service calls without it');
    }
    return { kind: 'convex', url: env.CONVEX_URL, serviceSecret: env.WEBHOST_SERVICE_SECRET };
  }
  if (env.DATABASE_URL) return { kind: 'postgres', url: env.DATABASE_URL };
  return { kind: 'pglite', dataDir: join(dataDir, 'pg') };
}

/**
 * The one place a store is made: the adapter the config names, behind the argument checks
 * every adapter shares (`validate.ts`). SQL databases are migrated first.
 */
export async function openStore(config: StoreConfig): Promise<Store> {
  return validatingStore(await openAdapter(config));
}

async function openAdapter(config: StoreConfig): Promise<Store> {
  switch (config.kind) {
    case 'convex':
      return createConvexStore(
        'transport' in config ? config.transport : convexHttpTransport(config.url),
        config.serviceSecret,
      );
    case 'postgres':
      return openSql(await openPostgres(config.url));
    case 'sql':
      return openSql(config.client);
    case 'pglite':
      if (config.dataDir) mkdirSync(config.dataDir, { recursive: true });
      return openSql(await openPglite(config.dataDir));
  }
}

async function openSql(db: SqlClient): Promise<Store> {
  await migrate(db);
  return createSqlStore(db);
}
