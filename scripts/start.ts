// Starts the whole platform on its embedded defaults: the Temporal dev server (SQLite under
// .data/, UI on :8233) unless TEMPORAL_ADDRESS is set, the local runtime (workerd) as its
// own process, and in this process the Temporal worker, the api and the gateway, sharing
// one store (PGlite under .data/pg, or DATABASE_URL).
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import { startApi } from '../api/main.js';
import { temporalClient } from '../api/temporal.js';
import { startGateway } from '../gateway/main.js';
import { authConfigFromEnv, createAuthenticator } from '../lib/auth/verify.js';
import { configFromEnv, publicApiUrlFromEnv } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { invokeTokens, loadMasterKey, payloadCodecKey, telemetryKeys } from '../lib/auth/platform-keys.js';
import { encryptedDataConverter } from '../lib/temporal/codec.js';
import { limitsFromEnv } from '../lib/limits.js';
import type { Runtime } from '../lib/contracts/index.js';
import { providersFromEnv } from '../lib/runtime/providers/index.js';
import { ensureControlToken } from '../runtime-local/server.js';
import { dashboardConfigFromEnv, startDashboard } from '../web/server.js';
import { openStore, storeConfigFromEnv } from '../lib/store/index.js';
import { startDevServer, stopChild, waitForTemporal } from '../lib/temporal/dev-server.js';
import { startWorker } from '../workers/main.js';
import { installSdkRuntime } from '../workers/sdk-runtime.js';
import { startTracing } from '../lib/tracing.js';

const tracing = startTracing('webhost');
const log = createLogger('platform');
const config = configFromEnv();
const limits = limitsFromEnv();
mkdirSync(config.dataDir, { recursive: true });
const cleanups: (() => Promise<void>)[] = [tracing.shutdown]; // run in reverse: spans exported last

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
      // the UI shows workflows' inputs, results and progress through the api's codec server
      uiCodecEndpoint: `http://127.0.0.1:${config.apiPort}/codec`,
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
  const dataConverter = encryptedDataConverter(payloadCodecKey(masterKey));
  const { providers, close: closeProviders } = providersFromEnv({
    env: process.env,
    runtimeUrl,
    runtimeToken,
    invokeToken: invokeTokens(masterKey),
    telemetryKey: telemetryKeys(masterKey),
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

  // the worker's SDK logs, and its metrics when asked for (README, Operations): before any worker exists
  const workerMetrics = installSdkRuntime(createLogger('worker'), process.env);

  // 4. The Temporal worker, with the Schedules (README, Operations).
  const worker = await startWorker({
    address: temporalAddress,
    namespace: config.temporal.namespace,
    store,
    providers,
    masterKey,
    dataDir: config.dataDir,
    limits,
    env: process.env,
    tracing,
  });
  worker.done.catch((err: unknown) => {
    log.error({ err }, 'Temporal worker stopped');
    void shutdown(1);
  });
  cleanups.push(() => worker.shutdown());

  // 5. api and gateway.
  const connection = await Connection.connect({ address: temporalAddress });
  cleanups.push(() => connection.close());
  const api = await startApi({
    store,
    client: temporalClient(connection, config.temporal.namespace, dataConverter),
    authConfig,
    masterKey,
    dataDir: config.dataDir,
    runtimes,
    env: process.env,
    port: config.apiPort,
  });
  cleanups.push(api.close);
  const gateway = await startGateway({
    store,
    authenticate: createAuthenticator(authConfig),
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
