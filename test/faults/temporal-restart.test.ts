import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, Deployment } from '../../lib/contracts/index.js';
import { openStore, type Store } from '../../lib/store/index.js';
import { startDevServer, stopChild, type DevServer } from '../../lib/temporal/dev-server.js';
import { startBillingClose } from '../../lib/temporal/schedules.js';
import { startFakeLemonSqueezy } from '../fakes/lemonsqueezy.js';
import { billingOwner, startBillingWorkerProcess } from '../helpers/billing.js';
import { apiClient, seconds, waitFor } from '../helpers/faults.js';
import { echoVersion } from '../helpers/fixtures.js';
import { startSplitPlatform, type SplitPlatform } from '../helpers/platform.js';
import { freePort } from '../helpers/ports.js';
import { connectTestPostgres } from '../helpers/postgres.js';
import { TEST_DATA_CONVERTER } from '../helpers/temporal.js';

// The Temporal dev server of this file (history in a SQLite file) is stopped while a deploy is
// in flight, and again while a billing close is, and started again on the same port and file.
// The workers' connections come back on their own and the work completes: the deploy goes live,
// the close reports every user to Lemon Squeezy (a fake) exactly once.
const server = await connectTestPostgres('the Temporal restart fault suite');

/** How long the dev server stays down. */
const DOWN_MS = 3_000;
const USERS = 40;
const LS_KEY = 'ls_fault_suite_key';

describe.runIf(server !== null)('the Temporal dev server restarted mid-work', () => {
  let temporal: DevServer;
  let platform: SplitPlatform;
  let port: number;
  let dbFile: string;
  let databaseUrl: string;
  const start = () => startDevServer({ port, uiPort: null, dbFile });
  /** Stops the dev server, waits DOWN_MS, starts it again on the same port and file; says for how long it was down. */
  const restart = async (whileDown: () => Promise<void>) => {
    const downAt = Date.now();
    await temporal.stop();
    await whileDown();
    await new Promise((r) => setTimeout(r, DOWN_MS));
    temporal = await start();
    return Date.now() - downAt;
  };

  beforeAll(async () => {
    port = await freePort();
    dbFile = join(mkdtempSync(join(tmpdir(), 'wh-temporal-')), 'temporal.db');
    temporal = await start();
    databaseUrl = await server!.createDatabase('webhost_faults_temporal');
    platform = await startSplitPlatform({ databaseUrl, temporalAddress: temporal.address, workers: 1, gateways: 0 });
  }, 180_000);
  afterAll(async () => {
    await platform?.stop();
    await temporal?.stop();
    await server?.close();
  });

  it('a deploy in flight when the server stops goes live after it is back', async () => {
    const api = apiClient(platform.apiUrl, await platform.token('temporal-restart'));
    const agent = await api<Agent>('POST', '/v1/agents', { name: 'restart', runtime: 'local' });
    const startedAt = Date.now();
    const { deploymentId } = await api<{ deploymentId: string }>('POST', `/v1/agents/${agent.id}/deployments`, {
      source: echoVersion('through-a-restart'),
    });
    const status = async () => (await api<Deployment>('GET', `/v1/deployments/${deploymentId}`)).status;
    let seen = 'queued';
    await waitFor('the deploy to be under way', async () => (seen = await status()) !== 'queued', 60_000, 50);
    expect(['building', 'deploying']).toContain(seen);
    const down = await restart(async () => {
      // the deploy is stuck where it was: nothing moves it on without Temporal
      expect(['building', 'deploying']).toContain(await status());
    });
    await waitFor('the deploy to end', async () => ['live', 'failed', 'canceled'].includes(await status()), 120_000);
    const deployment = await api<Deployment>('GET', `/v1/deployments/${deploymentId}`);
    expect(deployment.status).toBe('live');
    expect((await api<Agent>('GET', `/v1/agents/${agent.id}`)).activeDeploymentId).toBe(deploymentId);
    console.log(
      `temporal-restart: deploy stopped while ${seen}, Temporal down ${seconds(down)}, live ${seconds(Date.now() - startedAt)} after it started`,
    );
  }, 180_000);

  it('a billing close in progress when the server stops reports every user exactly once after it is back', async () => {
    const fake = await startFakeLemonSqueezy({ apiKey: LS_KEY });
    const store: Store = await openStore({ kind: 'postgres', url: databaseUrl });
    const taskQueue = 'faults-billing';
    // a worker of its own, Lemon Squeezy routed to the fake in this process (it paces reports at 240 a minute)
    const worker = await startBillingWorkerProcess({
      TEMPORAL_ADDRESS: temporal.address,
      TASK_QUEUE: taskQueue,
      DATABASE_URL: databaseUrl,
      LEMONSQUEEZY_FAKE_ORIGIN: fake.origin,
      LEMONSQUEEZY_API_KEY: LS_KEY,
    });
    const connection = await Connection.connect({ address: temporal.address });
    try {
      const period = '2025-06';
      const users: Awaited<ReturnType<typeof billingOwner>>[] = [];
      for (let i = 0; i < USERS; i++) {
        const subscriptionItemId = String(7000 + i);
        fake.addSubscriptionItem(subscriptionItemId);
        users.push(await billingOwner(store, { period, requests: (i % 3) + 1, subscriptionItemId }));
      }
      const client = new Client({ connection, dataConverter: TEST_DATA_CONVERTER });
      const startedAt = Date.now();
      const started = await startBillingClose(client, { period, taskQueue, input: { pageSize: 10, concurrency: 2 } });
      await waitFor('the close to be under way', async () => fake.usageRecords.length >= 5, 60_000, 50);
      let reportedBefore = 0;
      const down = await restart(async () => {
        reportedBefore = fake.usageRecords.length;
      });
      expect(reportedBefore).toBeLessThan(USERS);
      await waitFor(
        'every user to be reported',
        async () => {
          for (const u of users) {
            if ((await store.getBillingPeriod({ ownerId: u.ownerId, period })).usageReportId === null) return false;
          }
          return true;
        },
        120_000,
        500,
      );
      const result = await client.workflow.getHandle(started.workflowId).result();
      expect(result).toMatchObject({ done: true, counts: { owners: USERS } });
      expect(result.counts.reported + result.counts.alreadyReported).toBe(USERS);
      const perItem = fake.reportsPerItem();
      for (const u of users) {
        expect(perItem.get(u.subscriptionItemId!), `reports to ${u.subscriptionItemId}`).toBe(1);
        const closed = await store.getBillingPeriod({ ownerId: u.ownerId, period });
        expect(fake.subscriptionItem(u.subscriptionItemId!)!.usage).toBe(closed.totals!.requests);
      }
      console.log(
        `temporal-restart: billing close of ${USERS} users stopped after ${reportedBefore} reports, Temporal down ${seconds(down)}, ` +
          `complete ${seconds(Date.now() - startedAt)} after it started, ${fake.usageRecords.length} reports (each user once)`,
      );
    } finally {
      await connection.close();
      await stopChild(worker);
      await store.close();
      await fake.stop();
    }
  }, 180_000);
});
