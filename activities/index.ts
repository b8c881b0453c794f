import { createAuditActivities, type AuditActivityDeps } from './audit.js';
import { createBillingActivities, type BillingActivityDeps } from './billing.js';
import { createBuildActivities, type BuildActivityDeps } from './build.js';
import { createDeploymentActivities, type DeploymentActivityDeps } from './deployments.js';
import { createRetentionActivities, type RetentionActivityDeps } from './retention.js';
import { createSecretActivities, type SecretActivityDeps } from './secrets.js';
import { createSubscriptionActivities, type SubscriptionActivityDeps } from './subscriptions.js';
import { createRuntimeActivities, type RuntimeActivityDeps } from './runtime.js';
import { createWebhookActivities, type WebhookActivityDeps } from './webhooks.js';

export type ActivityDeps = DeploymentActivityDeps &
  BuildActivityDeps &
  RuntimeActivityDeps &
  AuditActivityDeps &
  SecretActivityDeps &
  RetentionActivityDeps &
  SubscriptionActivityDeps &
  BillingActivityDeps &
  WebhookActivityDeps;

/** Every activity the workers register, one group per domain, built from their dependencies (no globals). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createDeploymentActivities(deps),
    ...createBuildActivities(deps),
    ...createRuntimeActivities(deps),
    ...createAuditActivities(deps),
    ...createSecretActivities(deps),
    ...createRetentionActivities(deps),
    ...createSubscriptionActivities(deps),
    ...createBillingActivities(deps),
    ...createWebhookActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
