import type { Store } from '../port/index.js';
import { sqlAgents } from './agents.js';
import { sqlApiKeys } from './api-keys.js';
import { sqlAudit } from './audit.js';
import { sqlBilling } from './billing.js';
import { sqlChanges } from './changes.js';
import type { SqlClient } from './client.js';
import { sqlDeployments } from './deployments.js';
import { sqlIdempotency } from './idempotency.js';
import { sqlLimits } from './limits.js';
import { sqlLogs } from './logs.js';
import { sqlSecrets } from './secrets.js';
import { sqlUsage } from './usage.js';
import { sqlUsers } from './users.js';
import { sqlWebhooks } from './webhooks.js';

/**
 * The store on PostgreSQL semantics, over PGlite or a PostgreSQL server, one part per domain.
 * The schema must be migrated first (`migrate`).
 */
export function createSqlStore(db: SqlClient): Store {
  return {
    ...sqlUsers(db),
    ...sqlAgents(db),
    ...sqlDeployments(db),
    ...sqlSecrets(db),
    ...sqlApiKeys(db),
    ...sqlUsage(db),
    ...sqlLogs(db),
    ...sqlLimits(db),
    ...sqlBilling(db),
    ...sqlIdempotency(db),
    ...sqlAudit(db),
    ...sqlWebhooks(db),
    ...sqlChanges(db),
    close: () => db.close(),
  };
}
