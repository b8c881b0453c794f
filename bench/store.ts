// Store throughput per adapter, at 10k and 100k rows: telemetry-batch ingestion (insert,
// dedupe by event id, aggregate into hourly metrics and period usage — one transaction per
// batch) and deployment reads by agent (owner-scoped page of 20, and a single read).
// PGlite runs on disk as `npm start` uses it; PostgreSQL is the server on 127.0.0.1:5432.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TelemetryEvent } from '../lib/contracts/index.js';
import { newId } from '../lib/ids.js';
import { openPglite } from '../lib/store/pglite.js';
import { openPostgres } from '../lib/store/postgres.js';
import type { SqlClient } from '../lib/store/sql-client.js';
import { SqlStore } from '../lib/store/sql-store.js';
import { validatingStore } from '../lib/store/validating-store.js';
import type { Store } from '../lib/store/index.js';

const SIZES = (process.env.BENCH_SIZES ?? '10000,100000').split(',').map(Number);
const BATCH = Number(process.env.BENCH_BATCH ?? 100);
const READS = Number(process.env.BENCH_READS ?? 2000);
const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Row {
  adapter: string;
  rows: number;
  ingestEventsPerSec: number;
  listByAgentPerSec: number;
  getByIdPerSec: number;
}

async function measure(adapter: string, db: SqlClient): Promise<Row[]> {
  const store: Store = validatingStore(await SqlStore.open(db));
  const owner = newId('usr');
  const now = new Date();
  await store.ensureUser(owner, now);
  // Agents with one live deployment each, so telemetry has somewhere to go.
  const agents: { agentId: string; deploymentId: string }[] = [];
  for (let i = 0; i < 10; i++) {
    const agent = await store.createAgent({ id: newId('agt'), ownerId: owner, name: `bench-${i}`, runtime: 'local', now });
    const deploymentId = newId('dep');
    await store.createDeployment({ id: deploymentId, ownerId: owner, agentId: agent.id, workflowId: `deploy-${deploymentId}`, source: { type: 'files', entry: 'i.js', files: { 'i.js': 'x' } }, now });
    await store.transitionDeployment({ ownerId: owner, deploymentId, to: 'failed', now });
    agents.push({ agentId: agent.id, deploymentId });
  }
  const results: Row[] = [];
  let telemetryRows = 0;
  let deploymentRows = agents.length;
  for (const size of SIZES) {
    // Grow the deployments table to `size` rows (bulk seed: the measured part is the reads).
    const missing = size - deploymentRows;
    if (missing > 0) {
      await db.query(
        `insert into deployments (id, agent_id, owner_id, version, runtime, status, source_type, source, workflow_id, created_at, updated_at, finished_at)
         select 'dep_seed_' || $4 || '_' || g, ($1::text[])[1 + g % 10], $2, 1000 + $5 + g, 'local', 'failed', 'files', '{}'::jsonb, 'w', now(), now(), now()
         from generate_series(1, $3) g`,
        [agents.map((a) => a.agentId), owner, missing, size, deploymentRows],
      );
      deploymentRows = size;
    }
    // Grow raw telemetry to `size` rows through the port, timing the ingestion.
    const toIngest = size - telemetryRows;
    const started = performance.now();
    for (let done = 0; done < toIngest; done += BATCH) {
      const target = agents[(done / BATCH) % agents.length]!;
      const events: TelemetryEvent[] = Array.from({ length: Math.min(BATCH, toIngest - done) }, (_, i) => ({
        id: `${newId('req')}${i}`,
        at: new Date(Date.UTC(2026, 10, 1) + (telemetryRows + done + i) * 1000).toISOString(),
        kind: 'request',
        ok: i % 10 !== 0,
        durationMs: i,
        inputBytes: 100,
        outputBytes: 200,
      }));
      await store.ingestTelemetry({ ownerId: owner, ...target, events });
    }
    const ingestSeconds = (performance.now() - started) / 1000;
    telemetryRows = size;

    let t = performance.now();
    for (let i = 0; i < READS; i++) await store.listDeployments(owner, agents[i % agents.length]!.agentId, { limit: 20 });
    const listPerSec = READS / ((performance.now() - t) / 1000);
    t = performance.now();
    for (let i = 0; i < READS; i++) await store.getDeployment(owner, agents[i % agents.length]!.deploymentId);
    const getPerSec = READS / ((performance.now() - t) / 1000);
    results.push({ adapter, rows: size, ingestEventsPerSec: toIngest / ingestSeconds, listByAgentPerSec: listPerSec, getByIdPerSec: getPerSec });
    console.log(`  ${adapter} at ${size} rows done`);
  }
  await store.close();
  return results;
}

const rows: Row[] = [];
console.log(`store benchmark: batches of ${BATCH} events, ${READS} reads per figure`);
rows.push(...(await measure('pglite (disk)', await openPglite(mkdtempSync(join(tmpdir(), 'bench-pg-'))))));

const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2000 });
const pgReachable = await admin.connect().then(() => true, (err: Error) => (console.log(`  PostgreSQL not reachable (${err.message}): skipped`), false));
if (pgReachable) {
  const dbName = `webhost_bench_${randomBytes(4).toString('hex')}`;
  await admin.query(`create database ${dbName}`);
  try {
    const url = new URL(ADMIN_URL);
    url.pathname = `/${dbName}`;
    rows.push(...(await measure('postgresql', await openPostgres(url.toString()))));
  } finally {
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  }
}

const header = ['adapter', 'rows', 'ingest events/s', 'list by agent/s', 'get by id/s'];
const table = [header, ...rows.map((r) => [r.adapter, String(r.rows), r.ingestEventsPerSec.toFixed(0), r.listByAgentPerSec.toFixed(0), r.getByIdPerSec.toFixed(0)])];
const widths = header.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
console.log('');
for (const r of table) console.log(r.map((c, i) => c.padStart(widths[i]!)).join('  '));
