// The api as a process of its own (`tsx api/main.ts`), for running it apart from the workers
// and gateways against one PostgreSQL and one Temporal (README, Operations). Configuration by
// environment only: TEMPORAL_ADDRESS (required), TEMPORAL_NAMESPACE, DATABASE_URL (or
// CONVEX_URL), API_PORT, WEBHOST_DATA_DIR (the master key and the local sign-in key), Clerk's,
// the cloud runtimes' and Lemon Squeezy's settings, OTEL_EXPORTER_OTLP_ENDPOINT (traces).
// `npm start` runs the same api (startApi) in its process.
import { Connection, type Client } from '@temporalio/client';
import { loadMasterKey, operatorToken, payloadCodecKey, telemetryKeys } from '../lib/auth/platform-keys.js';
import { ensureLocalKeyPair } from '../lib/auth/local-keys.js';
import { signLocalToken } from '../lib/auth/sign.js';
import { authConfigFromEnv, createAuthenticator, type AuthConfig } from '../lib/auth/verify.js';
import { billingConfigFromEnv } from '../lib/billing/config.js';
import { lemonSqueezyClient } from '../lib/billing/lemonsqueezy.js';
import { configFromEnv } from '../lib/config.js';
import type { Runtime } from '../lib/contracts/index.js';
import { listen, type Listening } from '../lib/http/serve.js';
import { createLogger } from '../lib/log.js';
import { agentCoreConfigFromEnv } from '../lib/runtime/providers/agentcore.js';
import { cloudflareConfigFromEnv } from '../lib/runtime/providers/cloudflare.js';
import { openStore, storeConfigFromEnv, type Store } from '../lib/store/index.js';
import { EncryptionCodec, encryptedDataConverter } from '../lib/temporal/codec.js';
import { startTracing } from '../lib/tracing.js';
import { webhookConfigFromEnv } from '../lib/webhooks/config.js';
import { createApiApp } from './app.js';
import { ChangeFeed } from './change-feed.js';
import type { ApiDeps } from './deps.js';
import { defaultTierFromEnv } from './entitlements.js';
import { temporalClient, temporalWorkflows } from './temporal.js';

/**
 * The origins whose pages may call the codec server: `WEBHOST_CODEC_CORS_ORIGINS`
 * (comma-separated), else the embedded Temporal UI's.
 */
export function codecCorsOriginsFromEnv(env: NodeJS.ProcessEnv): string[] {
  const listed = env.WEBHOST_CODEC_CORS_ORIGINS?.split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  if (listed?.length) return listed;
  const { uiPort } = configFromEnv(env).temporal;
  return [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`];
}

/**
 * The api with what it keeps running: the change feed the dashboard's event stream reads.
 * `close` stops taking requests, then stops the feed.
 */
export async function startApi(opts: {
  store: Store;
  client: Client;
  authConfig: AuthConfig;
  masterKey: Buffer;
  /** Where the local sign-in key lives (auth without Clerk). */
  dataDir: string;
  /** The runtimes the workers have providers for. */
  runtimes: Runtime[];
  env: NodeJS.ProcessEnv;
  port: number;
}): Promise<Listening> {
  const { store, authConfig, masterKey, env } = opts;
  const changes = new ChangeFeed(store);
  await changes.start();
  // Lemon Squeezy: the webhook secret opens /webhooks/lemonsqueezy, the API key opens checkouts
  // (README, Billing). One client: the SDK's key is process-wide.
  const billingConfig = billingConfigFromEnv(env);
  const billing: ApiDeps['billing'] = {
    config: billingConfig,
    ...(billingConfig.api ? { lemonSqueezy: lemonSqueezyClient(billingConfig.api) } : {}),
  };
  const server = await listen(
    createApiApp({
      store,
      authenticate: createAuthenticator(authConfig),
      workflows: temporalWorkflows(opts.client),
      deployableRuntimes: opts.runtimes,
      defaultTier: defaultTierFromEnv(env),
      log: createLogger('api'),
      changes,
      operatorToken: operatorToken(masterKey),
      telemetryKey: telemetryKeys(masterKey),
      webhooks: webhookConfigFromEnv(env, masterKey),
      billing,
      codecServer: {
        codec: new EncryptionCodec(payloadCodecKey(masterKey)),
        access: authConfig.mode === 'local' ? { open: true } : { open: false, operatorToken: operatorToken(masterKey) },
        corsOrigins: codecCorsOriginsFromEnv(env),
      },
      // the dashboard's local sign-in, only without Clerk (README, Dashboard)
      ...(authConfig.mode === 'local'
        ? { localSignIn: (userId: string) => signLocalToken(ensureLocalKeyPair(opts.dataDir).privateKeyPem, userId) }
        : {}),
    }).fetch,
    opts.port,
  );
  return {
    url: server.url,
    async close() {
      await server.close();
      await changes.close();
    },
  };
}

if (import.meta.filename === process.argv[1]) {
  const tracing = startTracing('webhost-api');
  const config = configFromEnv();
  const address = config.temporal.address;
  if (!address) throw new Error('TEMPORAL_ADDRESS is required: the api starts workflows on a running Temporal');
  const masterKey = loadMasterKey(process.env, config.dataDir);
  const store = await openStore(storeConfigFromEnv(process.env, config.dataDir));
  const connection = await Connection.connect({ address });
  // the runtimes the workers have providers for: local always, the cloud ones when configured
  const runtimes: Runtime[] = ['local'];
  if (cloudflareConfigFromEnv(process.env)) runtimes.push('cloudflare');
  if (agentCoreConfigFromEnv(process.env)) runtimes.push('agentcore');
  const api = await startApi({
    store,
    client: temporalClient(connection, config.temporal.namespace, encryptedDataConverter(payloadCodecKey(masterKey))),
    authConfig: authConfigFromEnv(process.env, config.dataDir),
    masterKey,
    dataDir: config.dataDir,
    runtimes,
    env: process.env,
    port: config.apiPort,
  });
  const stop = async () => {
    await api.close();
    await connection.close();
    await store.close();
    await tracing.shutdown();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  console.log(JSON.stringify({ event: 'api_ready', url: api.url }));
}
