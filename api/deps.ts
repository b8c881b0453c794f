import type { HttpMetrics } from '../lib/http/metrics.js';
import type { Authenticator } from '../lib/auth/verify.js';
import type { BillingConfig } from '../lib/billing/config.js';
import type { LemonSqueezy } from '../lib/billing/lemonsqueezy.js';
import type { Runtime, Tier } from '../lib/contracts/index.js';
import type { Logger } from '../lib/log.js';
import type { WebhookConfig } from '../lib/webhooks/config.js';
import type { Store } from '../lib/store/index.js';
import type { ChangeFeed } from './change-feed.js';
import type { CodecServerDeps } from './routes/codec.js';
import type { LogTailTiming } from './routes/logs.js';
import type { Workflows } from './temporal.js';

export interface ApiDeps {
  store: Store;
  authenticate: Authenticator;
  workflows: Workflows;
  /** Runtimes this platform has a provider for; deploys to others are refused up front. */
  deployableRuntimes: readonly Runtime[];
  log: Logger;
  /** The tier a user starts on when first seen (billing off: `WEBHOST_DEFAULT_TIER`). */
  defaultTier?: Tier;
  /** Live updates for `GET /v1/events`; started by whoever composes the api. */
  changes: ChangeFeed;
  /** Opens `/admin/*` (operator commands, `npm run admin`); absent, those routes refuse every call. */
  operatorToken?: string;
  /**
   * A deployment's telemetry key (lib/auth/platform-keys.ts `telemetryKeys`), to check the
   * shim's signed batches (`POST /v1/telemetry`); absent, every batch is refused.
   */
  telemetryKey?: (deploymentId: string) => Buffer;
  /**
   * Lemon Squeezy (DESIGN.md §2): its settings open `POST /webhooks/lemonsqueezy` (with a webhook
   * secret) and `POST /v1/billing/checkout` (with a client, which needs the API key). Absent: billing is off.
   */
  billing?: { config: BillingConfig; lemonSqueezy?: LemonSqueezy };
  /** How `GET /v1/agents/:id/logs` tails pace themselves (api/routes/logs.ts `LOG_TAIL_TIMING` unless told). */
  logTail?: LogTailTiming;
  /**
   * Signs a local token for a user id: present only when auth is local (no Clerk keys), and
   * then `POST /auth/local-token` is the dashboard's sign-in. Absent, that route refuses.
   */
  localSignIn?: (userId: string) => Promise<string>;
  /** The codec server for Temporal UI and the CLI (`POST /codec/decode`); absent, that route is not served. */
  codecServer?: CodecServerDeps;
  /**
   * Outbound webhooks (`/v1/webhooks`): an endpoint's signing secret (lib/auth/platform-keys.ts
   * `webhookSecrets`), shown once when it is made, and where endpoints may point. Absent, creating
   * an endpoint fails as a misconfiguration.
   */
  webhooks?: WebhookConfig;
  /** Prometheus metrics (`GET /metrics`); one is made when absent. */
  metrics?: HttpMetrics;
}
