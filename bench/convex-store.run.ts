// The Convex column of `npm run bench:store`: the same measurements on the Convex adapter
// over convex-test (an in-memory stand-in for a Convex deployment, so the figures show the
// cost of our functions and adapter, not of a real backend's network, storage or OCC).
// It runs under vitest (bench/vitest.config.ts) because convex-test loads modules via Vite.
import { expect, it } from 'vitest';
import { openStore } from '../lib/store/index.js';
import { newTestBackend, testTransport } from '../test/helpers/convex.js';
import { measure, printTable } from './store-measure.js';

// convex-test keeps tables in memory and answers index ranges by scanning them, so its cost
// grows with table size: 10k rows take minutes and 100k rows are not measurable in any
// reasonable time. The figures say what our functions cost on it, not what Convex does.
const SIZES = (process.env.BENCH_CONVEX_SIZES ?? '10000').split(',').map(Number);

it('measures the Convex adapter', async () => {
  process.env.WEBHOST_SERVICE_SECRET = 'bench-secret';
  const t = newTestBackend();
  const store = await openStore({ kind: 'convex', transport: testTransport(t), serviceSecret: 'bench-secret' });
  const rows = await measure(
    'convex (convex-test)',
    store,
    SIZES,
    (agentIds, ownerId, count, offset) =>
      t.run(async (ctx) => {
        const now = Date.now();
        for (let g = 1; g <= count; g++) {
          await ctx.db.insert('deployments', {
            deploymentId: `dep_seed_${offset + g}`,
            agentId: agentIds[g % agentIds.length]!,
            ownerId,
            version: 1000 + offset + g,
            runtime: 'local',
            status: 'failed',
            sourceType: 'files',
            entry: 'i.js',
            artifactDigest: null,
            providerRef: null,
            workflowId: 'w',
            steps: [],
            error: null,
            createdAt: now,
            updatedAt: now,
            finishedAt: now,
          });
        }
      }),
    { batch: Number(process.env.BENCH_BATCH ?? 100), reads: Number(process.env.BENCH_CONVEX_READS ?? 200) },
  );
  printTable(rows);
  console.log('\n100k rows: not measured on convex-test (it scans in-memory tables; see the comment above).');
  expect(rows).toHaveLength(SIZES.length);
}, 600_000);
