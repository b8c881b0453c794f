import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import type { Payload, TypedSearchAttributes } from '@temporalio/common';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { ArtifactStore } from '../../lib/artifacts/index.js';
import { lemonSqueezyClient } from '../../lib/billing/lemonsqueezy.js';
import { openStore, type Store } from '../../lib/store/index.js';
import { ensureBillingCloseSchedule, startBillingClose } from '../../lib/temporal/schedules.js';
import { WorkflowKindKey } from '../../lib/temporal/search-attributes.js';
import { runDeployWorker, type RunningWorker } from '../../workers/deploy-worker.js';
import { FakeLemonSqueezy, startFakeLemonSqueezy } from '../../test/fakes/lemonsqueezy.js';
import { billingOwner } from '../../test/helpers/billing.js';
import { connectTestPostgres } from '../../test/helpers/postgres.js';
import { replayAndRecord, TEST_DATA_CONVERTER } from '../../test/helpers/temporal.js';
import { BILLING_CLOSE_WORKFLOW_KIND, billingCloseWorkflowId, previousPeriod } from './config.js';
import { billingCloseProgressQuery, type BillingCloseResult, type BillingMonthEndResult } from './messages.js';

Runtime.install({ logger: new DefaultLogger('ERROR') });

const API_KEY = 'ls_test_key_never_in_history';
const root = resolve(import.meta.dirname, '../..');

let client: Client;
let connection: Connection;
beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, dataConverter: TEST_DATA_CONVERTER });
});
afterAll(async () => connection?.close());

/** A worker in this process on its own task queue: the real activities, a PGlite store, the SDK routed to the fake. */
async function inProcessEnv() {
  const taskQueue = `test-billing-${randomUUID()}`;
  const store = await openStore({ kind: 'pglite', dataDir: undefined });
  const fake = await startFakeLemonSqueezy({ apiKey: API_KEY });
  const worker: RunningWorker = await runDeployWorker({
    address: inject('temporalAddress'),
    namespace: 'default',
    taskQueue,
    activities: createActivities({
      store,
      providers: {},
      artifacts: new ArtifactStore(join(mkdtempSync(join(tmpdir(), 'wh-bc-')), 'artifacts')),
      lemonSqueezy: lemonSqueezyClient({ apiKey: API_KEY, storeId: '1' }),
    }),
    dataConverter: TEST_DATA_CONVERTER,
  });
  return {
    taskQueue,
    store,
    fake,
    async close() {
      await worker.shutdown();
      await fake.stop();
      await store.close();
    },
  };
}

let itemSeq = 5000;
/** Owners with usage in `period`: `subscribed` on items the fake knows, then `unsubscribed` without. */
async function seed(store: Store, fake: FakeLemonSqueezy, period: string, subscribed: number, unsubscribed = 0) {
  const made = [];
  for (let i = 0; i < subscribed + unsubscribed; i++) {
    const subscriptionItemId = i < subscribed ? String(++itemSeq) : undefined;
    if (subscriptionItemId) fake.addSubscriptionItem(subscriptionItemId);
    made.push(await billingOwner(store, { period, requests: (i % 3) + 1, subscriptionItemId }));
  }
  return made;
}

/** Each subscribed owner's period is closed with its report recorded, and the fake applied exactly one report for it, of its requests. */
async function expectReportedOnce(
  store: Store,
  fake: FakeLemonSqueezy,
  period: string,
  made: { ownerId: string; subscriptionItemId: string | null }[],
) {
  const perItem = fake.reportsPerItem();
  for (const o of made) {
    const closed = await store.getBillingPeriod({ ownerId: o.ownerId, period });
    expect(closed.status, o.ownerId).toBe('closed');
    if (o.subscriptionItemId === null) {
      expect(closed.usageReportId).toBeNull();
      continue;
    }
    expect(perItem.get(o.subscriptionItemId), `reports to ${o.subscriptionItemId}`).toBe(1);
    const record = fake.usageRecords.find((r) => r.subscriptionItemId === o.subscriptionItemId)!;
    expect(record).toMatchObject({ action: 'set', quantity: closed.totals!.requests });
    expect(closed.usageReportId).toBe(record.id);
  }
}

/** Every payload of a run's history, decrypted with the test codec, as text. */
async function decodedPayloads(handle: { fetchHistory(): Promise<unknown> }): Promise<string> {
  const codec = TEST_DATA_CONVERTER.payloadCodecs[0]!;
  const texts: string[] = [];
  const walk = async (v: unknown): Promise<void> => {
    if (Array.isArray(v)) for (const x of v) await walk(x);
    else if (v && typeof v === 'object') {
      const { payloads } = v as { payloads?: unknown };
      if (Array.isArray(payloads))
        for (const p of await codec.decode(payloads as Payload[]))
          texts.push(Buffer.from(p.data ?? new Uint8Array()).toString('utf8'));
      for (const x of Object.values(v)) await walk(x);
    }
  };
  await walk(await handle.fetchHistory());
  return texts.join('\n');
}

describe('billing-close workflow', () => {
  let env: Awaited<ReturnType<typeof inProcessEnv>>;
  beforeAll(async () => {
    env = await inProcessEnv();
  });
  afterAll(async () => env?.close());

  it('closes and reports each owner once through 500, then 429, then 200, paging with continue-as-new', async () => {
    const period = '2025-03';
    const made = await seed(env.store, env.fake, period, 5, 2);
    env.fake.failNext(500, 429);

    const started = await startBillingClose(client, {
      period,
      taskQueue: env.taskQueue,
      input: { pageSize: 2, pagesPerRun: 2, concurrency: 1, retryInitialIntervalMs: 50 },
    });
    expect(started).toMatchObject({ workflowId: `billing-close-${period}`, state: 'started' });
    const result = await started.handle.result();

    expect(result).toMatchObject({
      period,
      done: true,
      counts: {
        owners: 7,
        closedNow: 7,
        reported: 5,
        alreadyReported: 0,
        noSubscription: 2,
        nothingToReport: 0,
        billingOff: 0,
        refused: 0,
      },
      pages: 4,
      runs: 2, // 4 pages, 2 per run
    });
    await expectReportedOnce(env.store, env.fake, period, made);
    // the scripted failures were answered, and retried past
    expect(env.fake.calls.filter((c) => c.path === '/v1/usage-records').map((c) => c.status)).toEqual([
      500, 429, 201, 201, 201, 201, 201,
    ]);

    const handle = client.workflow.getHandle(started.workflowId);
    const described = await handle.describe();
    expect(described.typedSearchAttributes.get(WorkflowKindKey)).toBe(BILLING_CLOSE_WORKFLOW_KIND);
    expect(await handle.query(billingCloseProgressQuery)).toEqual(result);
    // the API key is in the worker's client only: never in any run's history, decrypted
    const first = client.workflow.getHandle(started.workflowId, started.firstRunId);
    for (const h of [first, handle]) {
      const payloads = await decodedPayloads(h);
      expect(payloads).toContain('"pageSize":2'); // decoding works: the activity inputs are there
      expect(payloads).not.toContain(API_KEY);
    }
    await replayAndRecord(first, import.meta.dirname, 'billing-close-first-run.json', started.firstRunId);
    await replayAndRecord(handle, import.meta.dirname, 'billing-close-last-run.json');

    // closing it again finds it completed: nothing is reported twice
    const again = await startBillingClose(client, { period, taskQueue: env.taskQueue });
    expect(again.state).toBe('completed');
    expect(await again.handle.result()).toEqual(result);
    expect(env.fake.usageRecords).toHaveLength(5);
  });

  it('refuses a period that has not ended, before starting and in the workflow', async () => {
    const now = new Date();
    const current = now.toISOString().slice(0, 7);
    await expect(startBillingClose(client, { period: current, taskQueue: env.taskQueue })).rejects.toThrow(
      /has not ended/,
    );
    const handle = await client.workflow.start('billingCloseWorkflow', {
      taskQueue: env.taskQueue,
      workflowId: `billing-close-test-${randomUUID()}`,
      args: [{ period: current }],
    });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toMatchObject({ type: 'PeriodNotEnded' });
  });

  it('the month-end run starts the previous month’s close, or leaves the one already running alone', async () => {
    // an admin close of 2025-04 runs first (slowed: the fake holds its first report)
    const period = '2025-04';
    const made = await seed(env.store, env.fake, period, 2);
    const stall = env.fake.stallNext();
    const admin = await startBillingClose(client, { period, taskQueue: env.taskQueue, input: { concurrency: 1 } });
    await stall.arrived;
    const monthEnd = await client.workflow.execute('billingMonthEndWorkflow', {
      taskQueue: env.taskQueue,
      workflowId: `billing-month-end-test-${randomUUID()}`,
      args: [{ period }],
    });
    expect(monthEnd).toEqual({ period, workflowId: billingCloseWorkflowId(period), started: false });
    const joined = await startBillingClose(client, { period, taskQueue: env.taskQueue });
    expect(joined.state).toBe('running');
    stall.release();
    expect((await admin.handle.result()).counts).toMatchObject({ reported: 2 });
    await expectReportedOnce(env.store, env.fake, period, made);
  });
});

describe('billing-close Schedule', () => {
  let env: Awaited<ReturnType<typeof inProcessEnv>>;
  const scheduleId = `billing-close-monthly-test-${randomUUID()}`;
  beforeAll(async () => {
    env = await inProcessEnv();
  });
  afterAll(async () => {
    await client.schedule
      .getHandle(scheduleId)
      .delete()
      .catch(() => undefined);
    await env?.close();
  });

  it('is created once, restored at every start, and a run starts billing-close-<previous month>', async () => {
    const ensure = () => ensureBillingCloseSchedule(client, { taskQueue: env.taskQueue, scheduleId });
    expect(await ensure()).toEqual({ scheduleId, created: true });
    const handle = client.schedule.getHandle(scheduleId);
    await handle.update((s) => ({ ...s, spec: { calendars: [{ hour: 5 }] }, policies: { overlap: 'ALLOW_ALL' } }));
    expect(await ensure()).toEqual({ scheduleId, created: false });
    const described = await handle.describe();
    expect(described.spec.calendars).toEqual([
      expect.objectContaining({
        dayOfMonth: [{ start: 1, end: 1, step: 1 }],
        hour: [{ start: 0, end: 0, step: 1 }],
        minute: [{ start: 10, end: 10, step: 1 }],
      }),
    ]);
    expect(described.policies).toMatchObject({ overlap: 'SKIP' });
    expect(described.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'billingMonthEndWorkflow',
      workflowId: 'billing-month-end',
    });
    expect((described.action.typedSearchAttributes as TypedSearchAttributes).get(WorkflowKindKey)).toBe(
      BILLING_CLOSE_WORKFLOW_KIND,
    );

    const previous = previousPeriod(new Date());
    const made = await seed(env.store, env.fake, previous, 1);
    await handle.trigger();
    let workflowId: string | undefined;
    for (let i = 0; i < 100 && !workflowId; i++) {
      workflowId = (await handle.describe()).info.recentActions[0]?.action.workflow.workflowId;
      if (!workflowId) await new Promise((r) => setTimeout(r, 100));
    }
    expect(workflowId).toMatch(/^billing-month-end-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const monthEnd = (await client.workflow.getHandle(workflowId!).result()) as BillingMonthEndResult;
    expect(monthEnd).toEqual({ period: previous, workflowId: `billing-close-${previous}`, started: true });
    // the close runs on its own (abandoned by the month-end run)
    const close = client.workflow.getHandle(monthEnd.workflowId);
    const result = (await close.result()) as BillingCloseResult;
    expect(result.counts).toMatchObject({ owners: 1, reported: 1 });
    expect((await close.describe()).typedSearchAttributes.get(WorkflowKindKey)).toBe(BILLING_CLOSE_WORKFLOW_KIND);
    await expectReportedOnce(env.store, env.fake, previous, made);
    await replayAndRecord(client.workflow.getHandle(workflowId!), import.meta.dirname, 'billing-month-end.json');
  });
});

// ── a worker killed mid-close ─────────────────────────────────────────────────────────
const postgres = await connectTestPostgres('the billing close with a killed worker');

describe.runIf(postgres !== null)('billing-close with a worker killed mid-close', () => {
  const children: ChildProcess[] = [];
  let fake: FakeLemonSqueezy;
  let store: Store;
  let databaseUrl: string;
  const taskQueue = `test-billing-kill-${randomUUID()}`;
  beforeAll(async () => {
    databaseUrl = await postgres!.createDatabase('webhost_billing_kill');
    store = await openStore({ kind: 'postgres', url: databaseUrl });
    fake = new FakeLemonSqueezy({ apiKey: API_KEY });
    await fake.listen();
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await fake?.close();
    await store?.close();
    await postgres?.close();
  });

  /** A worker process on the shared PostgreSQL database; resolves once it polls. */
  async function workerProcess(): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/helpers/billing-worker-child.ts')], {
      cwd: root,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TASK_QUEUE: taskQueue,
        DATABASE_URL: databaseUrl,
        LEMONSQUEEZY_FAKE_ORIGIN: fake.origin,
        LEMONSQUEEZY_API_KEY: API_KEY,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((ready, failed) => {
      lines.on('line', (l) => l === 'ready' && ready());
      child.once('exit', (code) => failed(new Error(`worker exited (${code}) before it was ready`)));
    });
    return child;
  }

  it('resumes on another worker and reports each owner exactly once', { timeout: 120_000 }, async () => {
    const period = '2025-05';
    const made = await seed(store, fake, period, 10, 2);
    // the 6th report is held in flight: the first worker dies while it waits for the answer
    const stall = fake.stallNext(5);
    const first = await workerProcess();
    const started = await startBillingClose(client, {
      period,
      taskQueue,
      input: { pageSize: 4, pagesPerRun: 2, concurrency: 1, heartbeatTimeoutMs: 2_000, retryInitialIntervalMs: 100 },
    });
    await stall.arrived;
    expect(fake.usageRecords).toHaveLength(5);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    expect(first.signalCode).toBe('SIGKILL');
    const second = await workerProcess();

    const result = await started.handle.result();
    expect(result.done).toBe(true);
    expect(result.counts.owners).toBe(12);
    expect(result.counts.noSubscription).toBe(2);
    // reports the dead worker sent after its last heartbeat count as found, not sent, by the retry
    expect(result.counts.reported + result.counts.alreadyReported).toBe(10);
    await expectReportedOnce(store, fake, period, made);
    // the held report never got an answer, so it was not applied; the retry sent it again
    const usageCalls = fake.calls.filter((c) => c.path === '/v1/usage-records');
    expect(usageCalls.map((c) => c.status)).toEqual([201, 201, 201, 201, 201, 0, 201, 201, 201, 201, 201]);
    second.kill('SIGTERM');
  });
});
