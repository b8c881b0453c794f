// Starts the whole platform on its embedded defaults: the Temporal dev server (SQLite under
// .data/, UI on :8233) unless TEMPORAL_ADDRESS is set, the local runtime (workerd) as its
// own process, and in this process the Temporal worker, the api and the gateway, sharing
// one store (PGlite under .data/pg, or DATABASE_URL).
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createActivities } from '../activities/index.js';
import { createApiApp } from '../api/app.js';
import { billingConfigFromEnv } from '../lib/billing/config.js';
import { lemonSqueezyClient } from '../lib/billing/lemonsqueezy.js';
import { defaultTierFromEnv } from '../api/entitlements.js';
import { ChangeFeed } from '../api/change-feed.js';
import { temporalWorkflows } from '../api/temporal.js';
import { startGateway } from '../gateway/main.js';
import { ArtifactStore } from '../lib/artifacts/index.js';
import { authConfigFromEnv, createAuthenticator } from '../lib/auth/verify.js';
import { buildConfigFromEnv, configFromEnv, publicApiUrlFromEnv } from '../lib/config.js';
import { listen } from '../lib/http/serve.js';
import { createLogger } from '../lib/log.js';
import {
  invokeTokens,
  loadMasterKey,
  operatorToken,
  payloadCodecKey,
  telemetryKeys,
} from '../lib/auth/platform-keys.js';
import { encryptedDataConverter } from '../lib/temporal/codec.js';
import { limitsFromEnv } from '../lib/limits.js';
import type { Runtime } from '../lib/contracts/index.js';
import { providersFromEnv } from '../lib/runtime/providers/index.js';
import { ensureControlToken } from '../runtime-local/server.js';
import { ensureLocalKeyPair } from '../lib/auth/local-keys.js';
import { signLocalToken } from '../lib/auth/sign.js';
import { dashboardConfigFromEnv, startDashboard } from '../web/server.js';
import { openStore, storeConfigFromEnv } from '../lib/store/index.js';
import { startDevServer, stopChild, waitForTemporal } from '../lib/temporal/dev-server.js';
import { ensureBillingCloseSchedule, ensureRetentionSchedule } from '../lib/temporal/schedules.js';
import { webhookConfigFromEnv } from '../lib/webhooks/config.js';
import { runDeployWorker } from '../workers/deploy-worker.js';
import { installWorkerMetrics } from '../workers/metrics.js';

const log = createLogger('platform');
const config = configFromEnv();
const limits = limitsFromEnv();
mkdirSync(config.dataDir, { recursive: true });
const cleanups: (() => Promise<void>)[] = [];

async function shutdown(code: number) {
  for (const c of cleanups.reverse()) await c().catch((err: unknown) => log.error({ err }, 'shutdown step failed'));
  process.exit(code);
}
process.once('SIGINT', () => void shutdown(0));
process.once('SIGTERM', () => void shutdown(0));

try {
  // 1. Temporal.
  let temporalAddress = config.temporal.address;
  let temporalUi: string | null = null;
  if (temporalAddress) {
    await waitForTemporal(temporalAddress, 30_000);
  } else {
    log.info('starting Temporal dev server');
    const dev = await startDevServer({
      port: config.temporal.devPort,
      uiPort: config.temporal.uiPort,
      dbFile: join(config.dataDir, 'temporal.db'),
      namespace: config.temporal.namespace,
    });
    cleanups.push(dev.stop);
    temporalAddress = dev.address;
    temporalUi = dev.uiUrl;
  }

  // 2. The local runtime, in its own process so agents outlive a platform restart.
  const runtimeToken = ensureControlToken(config.dataDir);
  const runtimeUrl = `http://127.0.0.1:${config.runtimePort}`;
  const runtime = spawn(
    process.execPath,
    ['--import', 'tsx', resolve(import.meta.dirname, '../runtime-local/main.ts')],
    { stdio: 'inherit', env: process.env },
  );
  cleanups.push(() => stopChild(runtime));
  await waitForHttp(`${runtimeUrl}/healthz`, runtimeToken, 30_000, () => runtime.exitCode !== null);
  const masterKey = loadMasterKey(process.env, config.dataDir);
  const invokeToken = invokeTokens(masterKey);
  const telemetryKey = telemetryKeys(masterKey);
  const dataConverter = encryptedDataConverter(payloadCodecKey(masterKey));
  const webhooks = webhookConfigFromEnv(process.env, masterKey);
  const { providers, close: closeProviders } = providersFromEnv({
    env: process.env,
    runtimeUrl,
    runtimeToken,
    invokeToken,
    telemetryKey,
    limits: limits.agent,
  });
  cleanups.push(closeProviders);
  if ((providers.cloudflare || providers.agentcore) && !publicApiUrlFromEnv(process.env)) {
    log.warn('WEBHOST_PUBLIC_API_URL is not set: agents on cloud runtimes report no compute or background telemetry');
  }
  const runtimes = Object.keys(providers) as Runtime[];

  // 3. Store, auth.
  const store = await openStore(storeConfigFromEnv(process.env, config.dataDir));
  cleanups.push(() => store.close());
  const authConfig = authConfigFromEnv(process.env, config.dataDir);
  const authenticate = createAuthenticator(authConfig);

  // Lemon Squeezy: the webhook secret opens /webhooks/lemonsqueezy, the API key opens checkouts
  // and the period close's usage reports (README, Billing). One client: the SDK's key is process-wide.
  const billingConfig = billingConfigFromEnv(process.env);
  const billing = {
    config: billingConfig,
    ...(billingConfig.api ? { lemonSqueezy: lemonSqueezyClient(billingConfig.api) } : {}),
  };

  // the worker's SDK metrics, when asked for (README, Operations): before any worker exists
  const workerMetrics = installWorkerMetrics(process.env);

  // 4. Temporal worker; the period close reports usage through Lemon Squeezy when billing is
  // configured (the key stays in this process, never in workflow history).
  const activities = createActivities({
    ...(billing.lemonSqueezy ? { lemonSqueezy: billing.lemonSqueezy } : {}),
    store,
    providers,
    artifacts: new ArtifactStore(join(config.dataDir, 'artifacts')),
    buildLimits: limits.build,
    buildConfig: buildConfigFromEnv(process.env, config.dataDir),
    webhooks,
  });
  const worker = await runDeployWorker({
    address: temporalAddress,
    namespace: config.temporal.namespace,
    activities,
    buildConcurrency: limits.build.concurrency,
    dataConverter,
  });
  worker.done.catch((err: unknown) => {
    log.error({ err }, 'Temporal worker stopped');
    void shutdown(1);
  });
  cleanups.push(() => worker.shutdown());

  // 5. api and gateway.
  const connection = await Connection.connect({ address: temporalAddress });
  cleanups.push(() => connection.close());
  const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter });
  await ensureRetentionSchedule(client); // daily telemetry retention, created or updated (README, Operations)
  await ensureBillingCloseSchedule(client); // monthly billing-period close, created or updated (README, Operations)
  const changes = new ChangeFeed(store);
  await changes.start();
  cleanups.push(() => changes.close());
  const api = await listen(
    createApiApp({
      store,
      authenticate,
      workflows: temporalWorkflows(client),
      deployableRuntimes: runtimes,
      defaultTier: defaultTierFromEnv(process.env),
      log: createLogger('api'),
      changes,
      operatorToken: operatorToken(masterKey),
      telemetryKey,
      billing,
      webhooks,
      // the dashboard's local sign-in, only without Clerk (README, Dashboard)
      ...(authConfig.mode === 'local'
        ? {
            localSignIn: (userId: string) => signLocalToken(ensureLocalKeyPair(config.dataDir).privateKeyPem, userId),
          }
        : {}),
    }).fetch,
    config.apiPort,
  );
  cleanups.push(api.close);
  const gateway = await startGateway({
    store,
    authenticate,
    providers,
    limits: limits.agent,
    port: config.gatewayPort,
  });
  cleanups.push(gateway.close);
  // 6. The dashboard, built beforehand (scripts/build-web.ts), with its proxy to api and gateway.
  const dashboard = await startDashboard({
    port: config.dashboardPort,
    apiUrl: api.url,
    gatewayUrl: gateway.url,
    config: dashboardConfigFromEnv(process.env, authConfig.mode === 'local' ? 'local' : 'clerk'),
  });
  cleanups.push(dashboard.close);

  console.log(
    [
      '',
      'webhost.systems is running',
      `  dashboard    ${dashboard.url}`,
      `  api          ${api.url}`,
      `  gateway      ${gateway.url}`,
      ...(workerMetrics
        ? [`  metrics      ${api.url}/metrics, ${gateway.url}/metrics, ${workerMetrics} (worker)`]
        : []),
      `  temporal     ${temporalAddress}${temporalUi ? `   (UI ${temporalUi})` : ''}`,
      `  runtimes     local (workerd, control API ${runtimeUrl})${runtimes
        .filter((r) => r !== 'local')
        .map((r) => `, ${r}`)
        .join('')}`,
      `  state        ${process.env.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : `PGlite in ${join(config.dataDir, 'pg')}`}`,
      `  auth         ${authConfig.mode === 'local' ? 'local key pair; sign in to the dashboard with any user id, or get a token with: npm run --silent token -- alice' : 'Clerk'}`,
      '',
    ].join('\n'),
  );
  console.log(
    JSON.stringify({
      event: 'platform_ready',
      api: api.url,
      gateway: gateway.url,
      dashboard: dashboard.url,
      temporal: temporalAddress,
    }),
  );
} catch (err) {
  log.error({ err }, 'platform failed to start');
  await shutdown(1);
}

async function waitForHttp(url: string, token: string, timeoutMs: number, gaveUp: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !gaveUp()) {
    try {
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not come up`);
}
