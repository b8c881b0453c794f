// A Temporal worker as a process of its own (`tsx workers/main.ts`), for running several
// against one PostgreSQL and one Temporal (README, Operations). Configuration by environment
// only: TEMPORAL_ADDRESS (required), TEMPORAL_NAMESPACE, DATABASE_URL (or CONVEX_URL),
// LOCAL_RUNTIME_URL, WEBHOST_DATA_DIR (the master key and the runtime's control token),
// the cloud runtimes' and Lemon Squeezy's settings, WEBHOST_WORKER_METRICS_ADDRESS,
// OTEL_EXPORTER_OTLP_ENDPOINT (traces). `npm start` runs the same worker (startWorker) in its process.
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { createActivities } from '../activities/index.js';
import { temporalClient } from '../api/temporal.js';
import { ArtifactStore } from '../lib/artifacts/index.js';
import { invokeTokens, loadMasterKey, payloadCodecKey, telemetryKeys } from '../lib/auth/platform-keys.js';
import { billingConfigFromEnv } from '../lib/billing/config.js';
import { lemonSqueezyClient } from '../lib/billing/lemonsqueezy.js';
import { buildConfigFromEnv, configFromEnv } from '../lib/config.js';
import type { Runtime } from '../lib/contracts/index.js';
import { limitsFromEnv, type Limits } from '../lib/limits.js';
import { createLogger } from '../lib/log.js';
import type { RuntimeProvider } from '../lib/runtime/provider.js';
import { providersFromEnv } from '../lib/runtime/providers/index.js';
import { openStore, storeConfigFromEnv, type Store } from '../lib/store/index.js';
import { encryptedDataConverter } from '../lib/temporal/codec.js';
import { ensureBillingCloseSchedule, ensureRetentionSchedule } from '../lib/temporal/schedules.js';
import { startTracing, type Tracing } from '../lib/tracing.js';
import { webhookConfigFromEnv } from '../lib/webhooks/config.js';
import { ensureControlToken } from '../runtime-local/server.js';
import { runDeployWorker, type RunningWorker } from './deploy-worker.js';
import { installSdkRuntime } from './sdk-runtime.js';

/**
 * The Temporal worker with every activity, and the platform's Schedules created or updated
 * (daily telemetry retention, monthly billing-period close). The period close reports usage
 * through Lemon Squeezy when billing is configured: the key stays in this process, never in
 * workflow history.
 */
export async function startWorker(opts: {
  address: string;
  namespace: string;
  store: Store;
  providers: Partial<Record<Runtime, RuntimeProvider>>;
  /** The platform's master key: the payload codec's and the webhook signing secrets' keys come from it. */
  masterKey: Buffer;
  dataDir: string;
  limits: Limits;
  env: NodeJS.ProcessEnv;
  tracing: Tracing;
}): Promise<RunningWorker> {
  const billingConfig = billingConfigFromEnv(opts.env);
  const dataConverter = encryptedDataConverter(payloadCodecKey(opts.masterKey));
  const worker = await runDeployWorker({
    address: opts.address,
    namespace: opts.namespace,
    activities: createActivities({
      ...(billingConfig.api ? { lemonSqueezy: lemonSqueezyClient(billingConfig.api) } : {}),
      store: opts.store,
      providers: opts.providers,
      artifacts: new ArtifactStore(join(opts.dataDir, 'artifacts')),
      buildLimits: opts.limits.build,
      buildConfig: buildConfigFromEnv(opts.env, opts.dataDir),
      webhooks: webhookConfigFromEnv(opts.env, opts.masterKey),
    }),
    buildConcurrency: opts.limits.build.concurrency,
    dataConverter,
    tracing: opts.tracing,
  });
  const connection = await Connection.connect({ address: opts.address });
  try {
    const client = temporalClient(connection, opts.namespace, dataConverter);
    await ensureRetentionSchedule(client);
    await ensureBillingCloseSchedule(client);
  } catch (err) {
    await worker.shutdown();
    throw err;
  } finally {
    await connection.close();
  }
  return worker;
}

if (import.meta.filename === process.argv[1]) {
  const tracing = startTracing('webhost-worker');
  const log = createLogger('worker');
  const config = configFromEnv();
  const limits = limitsFromEnv();
  const address = config.temporal.address;
  if (!address) throw new Error('TEMPORAL_ADDRESS is required: a worker process joins a running Temporal');
  installSdkRuntime(log, process.env);
  const masterKey = loadMasterKey(process.env, config.dataDir);
  const store = await openStore(storeConfigFromEnv(process.env, config.dataDir));
  const { providers, close: closeProviders } = providersFromEnv({
    env: process.env,
    runtimeUrl: process.env.LOCAL_RUNTIME_URL ?? `http://127.0.0.1:${config.runtimePort}`,
    runtimeToken: ensureControlToken(config.dataDir),
    invokeToken: invokeTokens(masterKey),
    telemetryKey: telemetryKeys(masterKey),
    limits: limits.agent,
  });
  const worker = await startWorker({
    address,
    namespace: config.temporal.namespace,
    store,
    providers,
    masterKey,
    dataDir: config.dataDir,
    limits,
    env: process.env,
    tracing,
  });
  const stop = async (code: number) => {
    await worker.shutdown().catch((err: unknown) => log.error({ err }, 'worker shutdown failed'));
    await closeProviders();
    await store.close();
    await tracing.shutdown();
    process.exit(code);
  };
  process.once('SIGTERM', () => void stop(0));
  process.once('SIGINT', () => void stop(0));
  worker.done.catch((err: unknown) => {
    log.error({ err }, 'Temporal worker stopped');
    void stop(1);
  });
  console.log(JSON.stringify({ event: 'worker_ready' }));
}
