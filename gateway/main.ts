// The gateway as a process of its own (`tsx gateway/main.ts`), for running several behind one
// port against one PostgreSQL (README, Operations): configuration by environment only —
// DATABASE_URL (or CONVEX_URL), GATEWAY_PORT, LOCAL_RUNTIME_URL, WEBHOST_DATA_DIR (where the
// master key, the local sign-in key and the runtime's control token are), and the cloud
// runtimes' settings. `npm start` runs the same gateway in its own process group.
import { authConfigFromEnv, createAuthenticator, type Authenticator } from '../lib/auth/verify.js';
import { invokeTokens, loadMasterKey } from '../lib/auth/platform-keys.js';
import { configFromEnv } from '../lib/config.js';
import type { Runtime } from '../lib/contracts/index.js';
import { HttpMetrics } from '../lib/http/metrics.js';
import { listen, type Listening } from '../lib/http/serve.js';
import { limitsFromEnv, type AgentLimits } from '../lib/limits.js';
import { createLogger } from '../lib/log.js';
import { startTracing } from '../lib/tracing.js';
import type { RuntimeProvider } from '../lib/runtime/provider.js';
import { providersFromEnv } from '../lib/runtime/providers/index.js';
import { openStore, storeConfigFromEnv, type Store } from '../lib/store/index.js';
import { ensureControlToken } from '../runtime-local/server.js';
import { createGatewayApp } from './app.js';
import { RequestLimiter } from './limits.js';
import { UsageMeter } from './metering.js';
import { ServingCache } from './serving-cache.js';

/**
 * The gateway with what its hot path keeps in memory: the serving cache, the usage meter and
 * the request limiter. `close` stops taking requests, then writes every buffered usage event
 * and gives back leased requests, so a clean shutdown loses no usage.
 */
export async function startGateway(opts: {
  store: Store;
  authenticate: Authenticator;
  providers: Partial<Record<Runtime, RuntimeProvider>>;
  limits: Pick<AgentLimits, 'invokeTimeoutMs' | 'streamMaxMs' | 'replyMaxBytes'>;
  port: number;
}): Promise<Listening & { meter: UsageMeter }> {
  const log = createLogger('gateway');
  const serving = new ServingCache(opts.store);
  await serving.start();
  const meter = new UsageMeter(opts.store, log).start();
  const limiter = new RequestLimiter(opts.store, log);
  const metrics = new HttpMetrics('gateway');
  metrics.gauge(
    'webhost_usage_events_pending',
    'Usage events buffered, not yet written to the store.',
    () => meter.pending,
  );
  metrics.gauge(
    'webhost_usage_events_written',
    'Usage events this gateway has written to the store.',
    () => meter.written,
  );
  metrics.gauge(
    'webhost_usage_events_dropped',
    'Usage events dropped because the store would not take them.',
    () => meter.dropped,
  );
  const server = await listen(
    createGatewayApp({
      serving,
      authenticate: opts.authenticate,
      apiKeys: opts.store,
      providers: opts.providers,
      limits: opts.limits,
      idempotency: opts.store,
      meter,
      limiter,
      metrics,
      log,
    }).fetch,
    opts.port,
  );
  return {
    url: server.url,
    meter,
    async close() {
      await server.close();
      await meter.close();
      await limiter.close();
      await serving.close();
    },
  };
}

if (import.meta.filename === process.argv[1]) {
  const tracing = startTracing('webhost-gateway');
  const log = createLogger('gateway');
  const config = configFromEnv();
  const limits = limitsFromEnv();
  const masterKey = loadMasterKey(process.env, config.dataDir);
  const store = await openStore(storeConfigFromEnv(process.env, config.dataDir));
  const { providers, close: closeProviders } = providersFromEnv({
    env: process.env,
    runtimeUrl: process.env.LOCAL_RUNTIME_URL ?? `http://127.0.0.1:${config.runtimePort}`,
    runtimeToken: ensureControlToken(config.dataDir),
    invokeToken: invokeTokens(masterKey),
    limits: limits.agent,
  });
  const gateway = await startGateway({
    store,
    authenticate: createAuthenticator(authConfigFromEnv(process.env, config.dataDir)),
    providers,
    limits: limits.agent,
    port: config.gatewayPort,
  });
  const stop = async () => {
    await gateway.close();
    await closeProviders();
    await store.close();
    await tracing.shutdown();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  log.info({ url: gateway.url, dataDir: config.dataDir }, 'gateway ready');
  console.log(JSON.stringify({ event: 'gateway_ready', url: gateway.url }));
}
