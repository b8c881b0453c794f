import type { AgentStore } from './agents.js';
import { agentRules } from './agents.js';
import type { ApiKeyStore } from './api-keys.js';
import { apiKeyRules } from './api-keys.js';
import type { AuditStore } from './audit.js';
import { auditRules } from './audit.js';
import type { BillingStore } from './billing.js';
import { billingRules } from './billing.js';
import type { ChangeStore } from './changes.js';
import { changeRules } from './changes.js';
import type { DeploymentStore } from './deployments.js';
import { deploymentRules } from './deployments.js';
import type { IdempotencyStore } from './idempotency.js';
import { idempotencyRules } from './idempotency.js';
import type { LimitStore } from './limits.js';
import { limitRules } from './limits.js';
import type { LogStore } from './logs.js';
import { logRules } from './logs.js';
import type { Rules } from './rules.js';
import type { SecretStore } from './secrets.js';
import { secretRules } from './secrets.js';
import type { UsageStore } from './usage.js';
import { usageRules } from './usage.js';
import type { UserStore } from './users.js';
import { userRules } from './users.js';
import type { WebhookStore } from './webhooks.js';
import { webhookRules } from './webhooks.js';

export type * from './agents.js';
export type * from './api-keys.js';
export type * from './audit.js';
export type * from './billing.js';
export type * from './changes.js';
export type * from './deployments.js';
export type * from './idempotency.js';
export type * from './limits.js';
export type * from './logs.js';
export type * from './secrets.js';
export type * from './usage.js';
export type * from './users.js';
export type * from './webhooks.js';
export { EVERY_AGENT, isReset, RESET_CHANGE } from './changes.js';

/**
 * The state store port (architecture.md, Invariants): one interface per domain, each operation scoped by
 * owner where a user is behind it and transactional where its invariant needs it. Adapters
 * (`sql/`, `convex/`) are composed of one part per domain, and throw `AppError`
 * (`not_found`, `conflict`, `validation_failed`), never writing partially.
 */
export type Store = UserStore &
  AgentStore &
  DeploymentStore &
  SecretStore &
  ApiKeyStore &
  UsageStore &
  LogStore &
  LimitStore &
  BillingStore &
  IdempotencyStore &
  AuditStore &
  WebhookStore &
  ChangeStore & { close(): Promise<void> };

/** The argument rules of every operation, checked once in front of any adapter. */
export const storeRules: Rules<Store> = {
  ...userRules,
  ...agentRules,
  ...deploymentRules,
  ...secretRules,
  ...apiKeyRules,
  ...usageRules,
  ...logRules,
  ...limitRules,
  ...billingRules,
  ...idempotencyRules,
  ...auditRules,
  ...webhookRules,
  ...changeRules,
  close: null,
};
