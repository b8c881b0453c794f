import { afterAll, describe, expect, it } from 'vitest';
import { storeFactories } from '../../../test/helpers/stores.js';
import { describeStoreContract } from '../../../test/suites/store-contract.js';
import { migrate } from './migrate.js';
import { openPglite } from './pglite.js';

// The store contract on every SQL adapter: PGlite always, the PostgreSQL server when it
// answers (in CI it must). The Convex adapter runs the same suite in ../convex/convex.unit.test.ts.
const factories = await storeFactories();
afterAll(async () => {
  for (const f of factories) await f.cleanup();
});
for (const f of factories) describeStoreContract({ name: f.name, open: f.open, notifies: true });

describe('SQL schema', () => {
  it('has no column in secret_metadata that could hold a secret value', async () => {
    const db = await openPglite(undefined);
    try {
      await migrate(db);
      const { rows } = await db.query<{ column_name: string }>(
        `select column_name from information_schema.columns where table_name = 'secret_metadata' order by column_name`,
      );
      expect(rows.map((r) => r.column_name)).toEqual([
        'agent_id',
        'deleted_at',
        'name',
        'owner_id',
        'updated_at',
        'version',
      ]);
    } finally {
      await db.close();
    }
  });
});
