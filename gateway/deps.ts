import type { Authenticator } from '../lib/auth/verify.js';
import type { Runtime } from '../lib/contracts/index.js';
import type { AgentLimits } from '../lib/limits.js';
import type { HttpMetrics } from '../lib/http/metrics.js';
import type { Logger } from '../lib/log.js';
import type { RuntimeProvider } from '../lib/runtime/provider.js';
import type { ApiKeyStore, IdempotencyStore } from '../lib/store/index.js';
import type { RequestLimiter } from './limits.js';
import type { UsageMeter } from './metering.js';
import type { ServingCache } from './serving-cache.js';

export interface GatewayDeps {
  serving: ServingCache;
  authenticate: Authenticator;
  /** API keys, looked up by hash on every invoke that presents one (no cache: revocation is immediate). */
  apiKeys: Pick<ApiKeyStore, 'findApiKeyByHash'>;
  providers: Partial<Record<Runtime, RuntimeProvider>>;
  /** The invoke time, stream time and reply size limits (lib/limits.ts). */
  limits: Pick<AgentLimits, 'invokeTimeoutMs' | 'streamMaxMs' | 'replyMaxBytes'>;
  /** Where `Idempotency-Key` answers of JSON invokes are kept. */
  idempotency: IdempotencyStore;
  /** Where each invoke's usage event goes (batched off the hot path); absent, nothing is metered. */
  meter?: UsageMeter;
  /** The monthly request limit; absent, none is enforced. */
  limiter?: RequestLimiter;
  /** Prometheus metrics (`GET /metrics`); one is made when absent. */
  metrics?: HttpMetrics;
  log: Logger;
}
