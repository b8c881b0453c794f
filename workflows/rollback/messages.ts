import { defineQuery } from '@temporalio/workflow';
import type { WebhookRetry } from '../webhooks/config.js';

export interface RollbackInput {
  ownerId: string;
  agentId: string;
  /** The deployment to serve again: one of this agent's that reached `live`. */
  deploymentId: string;
  /** Who asked (`user:<id>`), for the audit log. */
  actor: string;
  /** How the `rollback.completed` webhooks are retried; tests shorten it (workflows/webhooks/config.ts has the default). */
  webhookRetry?: WebhookRetry;
}

export interface RollbackResult {
  agentId: string;
  deploymentId: string;
  /** The deployment that served before (null when none did). */
  previousDeploymentId: string | null;
  /** False when the target already served: nothing was changed. */
  switched: boolean;
}

export type RollbackStep = 'validate' | 'activate' | 'switch' | 'done' | 'compensate';

/** Where the rollback is; operators read it in Temporal UI. */
export const rollbackProgressQuery = defineQuery<{ agentId: string; deploymentId: string; step: RollbackStep }>(
  'progress',
);
