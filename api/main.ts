// The api as a process of its own (`tsx api/main.ts`), for running it apart from the workers
// and gateways against one PostgreSQL and one Temporal (README, Operations). Configuration by
// environment only: TEMPORAL_ADDRESS (required), TEMPORAL_NAMESPACE, DATABASE_URL (or
// CONVEX_URL), API_PORT, WEBHOST_DATA_DIR (the master key and the local sign-in key), Clerk's,
// the cloud runtimes' and Lemon Squeezy's settings.
import { Client, Connection } from '@temporalio/client';
import { loadMasterKey, operatorToken, payloadCodecKey, telemetryKeys } from '../lib/auth/platform-keys.js';
import { webhookConfigFromEnv } from '../lib/webhooks/config.js';
import { ensureLocalKeyPair } from '../lib/auth/local-keys.js';
import { signLocalToken } from '../lib/auth/sign.js';
import { authConfigFromEnv, createAuthenticator } from '../lib/auth/verify.js';
import { billingConfigFromEnv } from '../lib/billing/config.js';
import { lemonSqueezyClient } from '../lib/billing/lemonsqueezy.js';
import { configFromEnv } from '../lib/config.js';
import type { Runtime } from '../lib/contracts/index.js';
import { listen } from '../lib/http/serve.js';
import { createLogger } from '../lib/log.js';
import { agentCoreConfigFromEnv } from '../lib/runtime/providers/agentcore.js';
import { cloudflareConfigFromEnv } from '../lib/runtime/providers/cloudflare.js';
import { openStore, storeConfigFromEnv } from '../lib/store/index.js';
import { encryptedDataConverter } from '../lib/temporal/codec.js';
import { createApiApp } from './app.js';
import { ChangeFeed } from './change-feed.js';
import { defaultTierFromEnv } from './entitlements.js';
import { temporalWorkflows } from './temporal.js';

const config = configFromEnv();
const address = config.temporal.address;
if (!address) throw new Error('TEMPORAL_ADDRESS is required: the api starts workflows on a running Temporal');
const masterKey = loadMasterKey(process.env, config.dataDir);
const store = await openStore(storeConfigFromEnv(process.env, config.dataDir));
const authConfig = authConfigFromEnv(process.env, config.dataDir);
const connection = await Connection.connect({ address });
const client = new Client({
  connection,
  namespace: config.temporal.namespace,
  dataConverter: encryptedDataConverter(payloadCodecKey(masterKey)),
});
const changes = new ChangeFeed(store);
await changes.start();
const billingConfig = billingConfigFromEnv(process.env);
// the runtimes the workers have providers for: local always, the cloud ones when configured
const runtimes: Runtime[] = ['local'];
if (cloudflareConfigFromEnv(process.env)) runtimes.push('cloudflare');
if (agentCoreConfigFromEnv(process.env)) runtimes.push('agentcore');
const api = await listen(
  createApiApp({
    store,
    authenticate: createAuthenticator(authConfig),
    workflows: temporalWorkflows(client),
    deployableRuntimes: runtimes,
    defaultTier: defaultTierFromEnv(process.env),
    log: createLogger('api'),
    changes,
    operatorToken: operatorToken(masterKey),
    telemetryKey: telemetryKeys(masterKey),
    webhooks: webhookConfigFromEnv(process.env, masterKey),
    billing: {
      config: billingConfig,
      ...(billingConfig.api ? { lemonSqueezy: lemonSqueezyClient(billingConfig.api) } : {}),
    },
    ...(authConfig.mode === 'local'
      ? { localSignIn: (userId: string) => signLocalToken(ensureLocalKeyPair(config.dataDir).privateKeyPem, userId) }
      : {}),
  }).fetch,
  config.apiPort,
);

const stop = async () => {
  await api.close();
  await changes.close();
  await connection.close();
  await store.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
console.log(JSON.stringify({ event: 'api_ready', url: api.url }));
