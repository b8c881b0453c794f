import { pino } from 'pino';
import { createApiApp } from '../../api/app.js';
import { ChangeFeed } from '../../api/change-feed.js';
import type { LogTailTiming } from '../../api/routes/logs.js';
import type { Workflows } from '../../api/temporal.js';
import type { Runtime, Tier } from '../../lib/contracts/index.js';
import type { Store } from '../../lib/store/index.js';
import type { WebhookUrlPolicy } from '../../lib/webhooks/url.js';
import { localAuth } from './auth.js';
import { client } from './http.js';
import { testWebhookSecret } from './runtime.js';

/**
 * The api app over a store and a Temporal port, with local auth and a started change feed;
 * the local runtime only unless told otherwise, new users on pro unless told otherwise.
 */
export async function apiUnderTest(
  store: Store,
  workflows: Workflows,
  opts: {
    runtimes?: Runtime[];
    defaultTier?: Tier;
    telemetryKey?: (deploymentId: string) => Buffer;
    logTail?: LogTailTiming;
    /** Open `POST /auth/local-token` (the dashboard's sign-in without Clerk). */
    localSignIn?: boolean;
    /** Where webhook endpoints may point: public https only unless told (signing secrets from the test master key). */
    webhookUrlPolicy?: WebhookUrlPolicy;
  } = {},
) {
  const auth = localAuth();
  const changes = new ChangeFeed(store);
  await changes.start();
  const log = pino({ level: 'silent' });
  const app = createApiApp({
    store,
    authenticate: auth.authenticate,
    workflows,
    deployableRuntimes: opts.runtimes ?? ['local'],
    defaultTier: opts.defaultTier ?? 'pro',
    log,
    changes,
    ...(opts.telemetryKey ? { telemetryKey: opts.telemetryKey } : {}),
    ...(opts.logTail ? { logTail: opts.logTail } : {}),
    ...(opts.localSignIn ? { localSignIn: auth.token } : {}),
    webhooks: { secretFor: testWebhookSecret, urlPolicy: opts.webhookUrlPolicy ?? { allowLoopback: false } },
  });
  return {
    app,
    call: client(app),
    token: auth.token,
    authenticate: auth.authenticate,
    changes,
    log,
    close: () => changes.close(),
  };
}
