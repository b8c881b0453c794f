import type { Store } from '../port/index.js';
import { convexAgents } from './agents.js';
import { convexApiKeys } from './api-keys.js';
import { convexAudit } from './audit.js';
import { convexBilling } from './billing.js';
import { convexCaller } from './call.js';
import { convexChanges } from './changes.js';
import { convexDeployments } from './deployments.js';
import { convexIdempotency } from './idempotency.js';
import { convexLimits } from './limits.js';
import { convexLogs } from './logs.js';
import { convexSecrets } from './secrets.js';
import type { ConvexTransport } from './transport.js';
import { convexUsage } from './usage.js';
import { convexUsers } from './users.js';
import { convexWebhooks } from './webhooks.js';

export { convexHttpTransport, type ConvexTransport } from './transport.js';
export { followChanges } from './changes.js';

/**
 * The store on Convex, one part per domain. Every operation is one Convex query or mutation
 * (see `convex/`), whose transaction carries the invariant; the parts only convert: `Date`s
 * to epoch milliseconds, cursors to sort keys, `ConvexError`s to `AppError`s.
 */
export function createConvexStore(transport: ConvexTransport, serviceSecret: string): Store {
  const call = convexCaller(transport, serviceSecret);
  return {
    ...convexUsers(call),
    ...convexAgents(call),
    ...convexDeployments(call),
    ...convexSecrets(call),
    ...convexApiKeys(call),
    ...convexUsage(call),
    ...convexLogs(call),
    ...convexLimits(call),
    ...convexBilling(call),
    ...convexIdempotency(call),
    ...convexAudit(call),
    ...convexWebhooks(call),
    ...convexChanges(call),
    close: () => transport.close(),
  };
}
