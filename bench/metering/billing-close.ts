// Billing close at scale: `billing-close-<period>` for 10,000 users (each with usage and a
// Lemon Squeezy subscription item) on a real Temporal dev server, the real activities and a
// real store, reporting through the real `@lemonsqueezy/lemonsqueezy.js` SDK to the fake Lemon
// Squeezy (test/fakes/lemonsqueezy.ts). Seeding is not timed: users, agents and deployments in
// three SQL statements, usage through `recordRequests` (the gateway's path into hourly metrics
// and period usage) in batches of 1,000. Timed: from the workflow's start to its result.
// Aim: ≤ 2 minutes, 0 duplicate reports.
//
// `tsx bench/metering/billing-close.ts` prints the figures; BENCH_BILLING_USERS changes the
// count, BENCH_BILLING_STORE=pglite|postgres the store (default: PostgreSQL when it answers).
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { ArtifactStore } from '../../lib/artifacts/index.js';
import { lemonSqueezyClient } from '../../lib/billing/lemonsqueezy.js';
import type { MeteredRequest } from '../../lib/contracts/index.js';
import { openStore, type Store } from '../../lib/store/index.js';
import type { SqlClient } from '../../lib/store/sql/client.js';
import { openPglite } from '../../lib/store/sql/pglite.js';
import { openPostgres } from '../../lib/store/sql/postgres.js';
import { encryptedDataConverter } from '../../lib/temporal/codec.js';
import { startDevServer } from '../../lib/temporal/dev-server.js';
import { startBillingClose } from '../../lib/temporal/schedules.js';
import { startFakeLemonSqueezy } from '../../test/fakes/lemonsqueezy.js';
import { freePort } from '../../test/helpers/ports.js';
import { connectTestPostgres } from '../../test/helpers/postgres.js';
import { runDeployWorker } from '../../workers/deploy-worker.js';
import { buildWorkflowBundle } from '../../workers/workflow-bundle.js';
import type { BillingCloseResult } from '../../workflows/billing-close/messages.js';

export interface BillingCloseBenchOptions {
  /** Users with usage and a subscription item; default 10,000. */
  users?: number;
  /** Default: PostgreSQL when the server on 127.0.0.1:5432 (or TEST_POSTGRES_URL) answers, else in-memory PGlite. */
  store?: 'postgres' | 'pglite';
  /** A Temporal to use (its namespace `default` must have the WorkflowKind search attribute); default: a dev server of its own. */
  temporalAddress?: string;
  /** The closed period (a month that has ended); default 2025-01. */
  period?: string;
  /** Progress lines (seeding, running); default stderr. */
  log?: (line: string) => void;
}

export interface BillingCloseFigures {
  users: number;
  /** From the workflow's start to its result. */
  seconds: number;
  /** Usage records the fake Lemon Squeezy applied. */
  reportsSent: number;
  /** Usage records beyond the first for the same subscription item (the period's). */
  duplicateReports: number;
  /** Users whose period is closed with its report recorded, read from the store. */
  usersReported: number;
  store: string;
  pages: number;
  runs: number;
  counts: BillingCloseResult['counts'];
}

const REQUESTS_PER_USER = [1, 2, 3];

async function seed(db: SqlClient, store: Store, users: number, period: string, log: (l: string) => void) {
  const t0 = Date.now();
  const n = (i: string) => `lpad(${i}::text, 6, '0')`;
  await db.query(
    `insert into users (id, tier, created_at, billing_subscription_item_id)
     select 'usr_bench_' || ${n('g')}, 'pro', now(), (100000 + g)::text from generate_series(1, $1::int) g`,
    [users],
  );
  await db.query(
    `insert into agents (id, owner_id, name, runtime, created_at, updated_at)
     select 'agt_bench_' || ${n('g')}, 'usr_bench_' || ${n('g')}, 'bench', 'local', now(), now()
     from generate_series(1, $1::int) g`,
    [users],
  );
  await db.query(
    `insert into deployments (id, agent_id, owner_id, version, runtime, status, source_type, source, workflow_id,
       created_at, updated_at, finished_at)
     select 'dep_bench_' || ${n('g')}, 'agt_bench_' || ${n('g')}, 'usr_bench_' || ${n('g')}, 1, 'local', 'live',
       'files', '{}'::jsonb, 'w', now(), now(), now()
     from generate_series(1, $1::int) g`,
    [users],
  );
  const start = Date.parse(`${period}-01T00:00:00.000Z`);
  const events: MeteredRequest[] = [];
  for (let g = 1; g <= users; g++) {
    const id = String(g).padStart(6, '0');
    for (let k = 0; k < REQUESTS_PER_USER[g % REQUESTS_PER_USER.length]!; k++)
      events.push({
        id: `req_bench_${id}_${k}`,
        at: new Date(start + ((g * 7 + k) % (27 * 24)) * 3_600_000 + 1_000).toISOString(),
        ownerId: `usr_bench_${id}`,
        agentId: `agt_bench_${id}`,
        deploymentId: `dep_bench_${id}`,
        runtime: 'local',
        status: 200,
        durationMs: 20,
        inputBytes: 100,
        outputBytes: 300,
        inputTokens: 10,
        outputTokens: 20,
        sessionId: null,
        endUser: null,
        apiKeyId: null,
      });
  }
  for (let i = 0; i < events.length; i += 1000) await store.recordRequests(events.slice(i, i + 1000));
  log(`seeded ${users} users, ${events.length} requests in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

export async function measureBillingClose(opts: BillingCloseBenchOptions = {}): Promise<BillingCloseFigures> {
  const users = opts.users ?? 10_000;
  const period = opts.period ?? '2025-01';
  const log = opts.log ?? ((l: string) => console.error(l));
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    // the store
    let db: SqlClient;
    let storeName: string;
    const server = opts.store === 'pglite' ? null : await connectTestPostgres('billing close on PostgreSQL');
    if (server) {
      cleanups.push(() => server.close());
      db = await openPostgres(await server.createDatabase('webhost_bench_close'));
      storeName = 'postgresql';
    } else {
      if (opts.store === 'postgres') throw new Error('PostgreSQL is not reachable');
      db = await openPglite(undefined);
      storeName = 'pglite (memory)';
    }
    const store = await openStore({ kind: 'sql', client: db });
    cleanups.push(() => store.close());
    await seed(db, store, users, period, log);

    // Temporal, the fake Lemon Squeezy, a worker with the real activities
    let address = opts.temporalAddress;
    if (!address) {
      const dev = await startDevServer({ port: await freePort(), uiPort: null });
      cleanups.push(() => dev.stop());
      address = dev.address;
    }
    await buildWorkflowBundle();
    const apiKey = `ls_bench_${randomUUID()}`;
    const fake = await startFakeLemonSqueezy({ apiKey });
    cleanups.push(() => fake.stop());
    for (let g = 1; g <= users; g++) fake.addSubscriptionItem(String(100000 + g));
    const dataConverter = encryptedDataConverter(randomBytes(32));
    const taskQueue = `bench-billing-close-${randomUUID()}`;
    const worker = await runDeployWorker({
      address,
      namespace: 'default',
      taskQueue,
      activities: createActivities({
        store,
        providers: {},
        artifacts: new ArtifactStore(join(mkdtempSync(join(tmpdir(), 'bench-close-')), 'artifacts')),
        lemonSqueezy: lemonSqueezyClient({ apiKey, storeId: '1' }),
        // the fake has no rate limit; against the real API (300 calls a minute) the pace, not the platform, sets the time
        lemonSqueezyReportsPerMinute: Infinity,
      }),
      dataConverter,
    });
    cleanups.push(() => worker.shutdown());
    const connection = await Connection.connect({ address });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, dataConverter });

    // timed: the close, as the Schedule or `admin -- close-period` runs it (default page size, concurrency)
    log(`closing ${period} for ${users} users on ${storeName}…`);
    const t0 = performance.now();
    const started = await startBillingClose(client, { period, taskQueue });
    if (started.state !== 'started')
      throw new Error(`${started.workflowId} was ${started.state} already on this Temporal: use a fresh one`);
    const result = await started.handle.result();
    const seconds = (performance.now() - t0) / 1000;

    const perItem = fake.reportsPerItem();
    const { rows } = await db.query(
      `select count(*)::int as n from billing_periods
       where period = $1 and status = 'closed' and usage_report_id is not null`,
      [period],
    );
    return {
      users,
      seconds: Math.round(seconds * 10) / 10,
      reportsSent: fake.usageRecords.length,
      duplicateReports: [...perItem.values()].reduce((sum, c) => sum + c - 1, 0),
      usersReported: Number(rows[0]!.n),
      store: storeName,
      pages: result.pages,
      runs: result.runs,
      counts: result.counts,
    };
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => log(`cleanup: ${String(err)}`));
  }
}

// `tsx bench/metering/billing-close.ts`
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const store = process.env.BENCH_BILLING_STORE as 'postgres' | 'pglite' | undefined;
  const f = await measureBillingClose({
    users: Number(process.env.BENCH_BILLING_USERS ?? 10_000),
    ...(store ? { store } : {}),
  });
  console.log(
    `billing close: ${f.users} users on ${f.store}, fake Lemon Squeezy (no rate limit; the real one's 300/min would pace 10k reports to ~42 min)`,
  );
  console.log(`  time                 ${f.seconds} s  (aim ≤ 120 s)`);
  console.log(`  reports sent         ${f.reportsSent}`);
  console.log(`  duplicate reports    ${f.duplicateReports}  (aim 0)`);
  console.log(`  users reported       ${f.usersReported}  (closed with a recorded report, from the store)`);
  console.log(`  pages / runs         ${f.pages} / ${f.runs}  (continue-as-new between runs)`);
  process.exit(f.duplicateReports === 0 && f.usersReported === f.users ? 0 : 1);
}
