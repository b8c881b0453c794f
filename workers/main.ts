// A Temporal worker as a process of its own (`tsx workers/main.ts`), for running several
// against one PostgreSQL and one Temporal (README, Operations). Configuration by environment
// only: TEMPORAL_ADDRESS (required), TEMPORAL_NAMESPACE, DATABASE_URL (or CONVEX_URL),
// LOCAL_RUNTIME_URL, WEBHOST_DATA_DIR (the master key and the runtime's control token),
// the cloud runtimes' and Lemon Squeezy's settings, WEBHOST_WORKER_METRICS_ADDRESS.
// It also creates or updates the platform's Schedules, as `npm start` does.
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createActivities } from '../activities/index.js';
import { ArtifactStore } from '../lib/artifacts/index.js';
import { invokeTokens, loadMasterKey, payloadCodecKey, telemetryKeys } from '../lib/auth/platform-keys.js';
import { billingConfigFromEnv } from '../lib/billing/config.js';
import { lemonSqueezyClient } from '../lib/billing/lemonsqueezy.js';
import { buildConfigFromEnv, configFromEnv } from '../lib/config.js';
import { limitsFromEnv } from '../lib/limits.js';
import { createLogger } from '../lib/log.js';
import { providersFromEnv } from '../lib/runtime/providers/index.js';
import { openStore, storeConfigFromEnv } from '../lib/store/index.js';
import { encryptedDataConverter } from '../lib/temporal/codec.js';
import { ensureBillingCloseSchedule, ensureRetentionSchedule } from '../lib/temporal/schedules.js';
import { webhookConfigFromEnv } from '../lib/webhooks/config.js';
import { ensureControlToken } from '../runtime-local/server.js';
import { runDeployWorker } from './deploy-worker.js';
import { installWorkerMetrics } from './metrics.js';

const log = createLogger('worker');
const config = configFromEnv();
const limits = limitsFromEnv();
const address = config.temporal.address;
if (!address) throw new Error('TEMPORAL_ADDRESS is required: a worker process joins a running Temporal');
installWorkerMetrics(process.env);
const masterKey = loadMasterKey(process.env, config.dataDir);
const dataConverter = encryptedDataConverter(payloadCodecKey(masterKey));
const store = await openStore(storeConfigFromEnv(process.env, config.dataDir));
const { providers, close: closeProviders } = providersFromEnv({
  env: process.env,
  runtimeUrl: process.env.LOCAL_RUNTIME_URL ?? `http://127.0.0.1:${config.runtimePort}`,
  runtimeToken: ensureControlToken(config.dataDir),
  invokeToken: invokeTokens(masterKey),
  telemetryKey: telemetryKeys(masterKey),
  limits: limits.agent,
});
const billingConfig = billingConfigFromEnv(process.env);
const worker = await runDeployWorker({
  address,
  namespace: config.temporal.namespace,
  activities: createActivities({
    ...(billingConfig.api ? { lemonSqueezy: lemonSqueezyClient(billingConfig.api) } : {}),
    store,
    providers,
    artifacts: new ArtifactStore(join(config.dataDir, 'artifacts')),
    buildLimits: limits.build,
    buildConfig: buildConfigFromEnv(process.env, config.dataDir),
    webhooks: webhookConfigFromEnv(process.env, masterKey),
  }),
  buildConcurrency: limits.build.concurrency,
  dataConverter,
});
const connection = await Connection.connect({ address });
const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter });
await ensureRetentionSchedule(client);
await ensureBillingCloseSchedule(client);
await connection.close();

const stop = async (code: number) => {
  await worker.shutdown().catch((err: unknown) => log.error({ err }, 'worker shutdown failed'));
  await closeProviders();
  await store.close();
  process.exit(code);
};
process.once('SIGTERM', () => void stop(0));
process.once('SIGINT', () => void stop(0));
worker.done.catch((err: unknown) => {
  log.error({ err }, 'Temporal worker stopped');
  void stop(1);
});
console.log(JSON.stringify({ event: 'worker_ready' }));
