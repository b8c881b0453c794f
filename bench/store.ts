// Store throughput per adapter, at 10k and 100k rows: telemetry-batch ingestion (insert,
// dedupe by event id, aggregate into hourly metrics and period usage — one transaction per
// batch) and deployment reads by agent (owner-scoped page of 20, and a single read).
// PGlite runs on disk as `npm start` uses it; PostgreSQL is the server on 127.0.0.1:5432.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../lib/store/index.js';
import type { SqlClient } from '../lib/store/sql/client.js';
import { openPglite } from '../lib/store/sql/pglite.js';
import { openPostgres } from '../lib/store/sql/postgres.js';
import { connectTestPostgres } from '../test/helpers/postgres.js';
import { measure, printTable, type Row } from './store-measure.js';

const SIZES = (process.env.BENCH_SIZES ?? '10000,100000').split(',').map(Number);
const BATCH = Number(process.env.BENCH_BATCH ?? 100);
const READS = Number(process.env.BENCH_READS ?? 2000);

const rows: Row[] = [];
console.log(`store benchmark: batches of ${BATCH} events, ${READS} reads per figure`);
async function sql(adapter: string, db: SqlClient): Promise<Row[]> {
  const store = await openStore({ kind: 'sql', client: db });
  try {
    return await measure(
      adapter,
      store,
      SIZES,
      async (agentIds, ownerId, count, offset) => {
        await db.query(
          `insert into deployments (id, agent_id, owner_id, version, runtime, status, source_type, source, workflow_id, created_at, updated_at, finished_at)
           select 'dep_seed_' || ($4::int + g), ($1::text[])[1 + g % 10], $2, 1000 + $4::int + g, 'local', 'failed', 'files', '{}'::jsonb, 'w', now(), now(), now()
           from generate_series(1, $3::int) g`,
          [agentIds, ownerId, count, offset],
        );
      },
      { batch: BATCH, reads: READS },
    );
  } finally {
    await store.close();
  }
}

rows.push(...(await sql('pglite (disk)', await openPglite(mkdtempSync(join(tmpdir(), 'bench-pg-'))))));

const server = await connectTestPostgres('the PostgreSQL adapter');
if (server) {
  try {
    rows.push(...(await sql('postgresql', await openPostgres(await server.createDatabase('webhost_bench')))));
  } finally {
    await server.close();
  }
}

printTable(rows);
