import { openStore, type Store } from '../../lib/store/index.js';
import { connectTestPostgres } from './postgres.js';

export interface StoreFactory {
  name: string;
  open(): Promise<Store>;
  /** Drops what `open` made; called once after the file's tests. */
  cleanup(): Promise<void>;
}

/** PGlite always; the PostgreSQL server too when it answers (in CI it must). */
export async function storeFactories(): Promise<StoreFactory[]> {
  const factories: StoreFactory[] = [
    { name: 'pglite', open: () => openStore({ kind: 'pglite', dataDir: undefined }), cleanup: async () => {} },
  ];
  const server = await connectTestPostgres('the PostgreSQL adapter');
  if (server) {
    factories.push({
      name: 'postgres',
      open: async () => openStore({ kind: 'postgres', url: await server.createDatabase('webhost_test') }),
      cleanup: () => server.close(),
    });
  }
  return factories;
}
