import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { openConvexStore } from './convex-store.js';
import { openPglite } from './pglite.js';
import { openPostgres } from './postgres.js';
import { SqlStore } from './sql-store.js';
import type { Store } from './port.js';
import { validatingStore } from './validating-store.js';

export type { Store, ServingTarget, TransitionInput, IdempotencyBegin, StoreChange } from './port.js';

export type StoreConfig =
  | { kind: 'pglite'; dataDir: string | undefined }
  | { kind: 'postgres'; url: string }
  | { kind: 'convex'; url: string; serviceSecret: string };

/**
 * `CONVEX_URL` selects Convex (with `WEBHOST_SERVICE_SECRET`, which the deployment holds
 * too), `DATABASE_URL` a PostgreSQL server; otherwise PGlite with its data under `dataDir/pg`.
 */
export function storeConfigFromEnv(env: NodeJS.ProcessEnv, dataDir: string): StoreConfig {
  if (env.CONVEX_URL) {
    if (!env.WEBHOST_SERVICE_SECRET) throw new Error('CONVEX_URL is set but WEBHOST_SERVICE_SECRET is not: Convex refuses service calls without it');
    return { kind: 'convex', url: env.CONVEX_URL, serviceSecret: env.WEBHOST_SERVICE_SECRET };
  }
  if (env.DATABASE_URL) return { kind: 'postgres', url: env.DATABASE_URL };
  return { kind: 'pglite', dataDir: join(dataDir, 'pg') };
}

export async function openStore(config: StoreConfig): Promise<Store> {
  if (config.kind === 'convex') return openConvexStore(config);
  if (config.kind === 'postgres') return validatingStore(await SqlStore.open(await openPostgres(config.url)));
  if (config.dataDir) mkdirSync(config.dataDir, { recursive: true });
  return validatingStore(await SqlStore.open(await openPglite(config.dataDir)));
}
