import { afterAll } from 'vitest';
import { storeFactories } from '../../test/helpers/stores.js';
import { describeStoreContract } from './contract.js';

// The store contract on every SQL adapter: PGlite always, the PostgreSQL server when it
// answers (in CI it must). The Convex adapter runs the same suite in convex-store.unit.test.ts.
const factories = await storeFactories();
afterAll(async () => {
  for (const f of factories) await f.cleanup();
});
for (const f of factories) describeStoreContract({ name: f.name, open: f.open, notifies: true });
