// A Temporal worker in its own process, for tests that kill it mid-work (SIGKILL, no goodbye):
// the real activities on a PostgreSQL store, Lemon Squeezy through the real SDK routed to a fake
// that lives in the test process (so what it recorded survives the kill). Configured by env:
// TEMPORAL_ADDRESS, TASK_QUEUE, DATABASE_URL, LEMONSQUEEZY_FAKE_ORIGIN, LEMONSQUEEZY_API_KEY.
// Prints `ready` once polling.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { ArtifactStore } from '../../lib/artifacts/index.js';
import { lemonSqueezyClient } from '../../lib/billing/lemonsqueezy.js';
import { openStore } from '../../lib/store/index.js';
import { encryptedDataConverter } from '../../lib/temporal/codec.js';
import { runDeployWorker } from '../../workers/deploy-worker.js';
import { routeLemonSqueezyTo } from '../fakes/lemonsqueezy.js';

Runtime.install({ logger: new DefaultLogger('ERROR') });
const env = (name: string) => process.env[name] ?? (console.error(`${name} is not set`), process.exit(2));

routeLemonSqueezyTo(env('LEMONSQUEEZY_FAKE_ORIGIN'));
const store = await openStore({ kind: 'postgres', url: env('DATABASE_URL') });
const worker = await runDeployWorker({
  address: env('TEMPORAL_ADDRESS'),
  namespace: 'default',
  taskQueue: env('TASK_QUEUE'),
  activities: createActivities({
    store,
    providers: {},
    artifacts: new ArtifactStore(join(mkdtempSync(join(tmpdir(), 'wh-bw-')), 'artifacts')),
    lemonSqueezy: lemonSqueezyClient({ apiKey: env('LEMONSQUEEZY_API_KEY'), storeId: '1' }),
  }),
  // the key of test/helpers/temporal.ts TEST_DATA_CONVERTER (that module needs vitest)
  dataConverter: encryptedDataConverter(Buffer.alloc(32, 0x5e)),
});
process.once('SIGTERM', () => void worker.shutdown().then(() => store.close()));
console.log('ready');
await worker.done;
