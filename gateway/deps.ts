import type { Authenticator } from '../lib/auth/verify.js';
import type { Runtime } from '../lib/contracts/index.js';
import type { Logger } from '../lib/log.js';
import type { RuntimeProvider } from '../lib/runtime/provider.js';
import type { ServingCache } from './serving-cache.js';

export interface GatewayDeps {
  serving: ServingCache;
  authenticate: Authenticator;
  providers: Partial<Record<Runtime, RuntimeProvider>>;
  log: Logger;
}
