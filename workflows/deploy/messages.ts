import { defineQuery } from '@temporalio/workflow';
import type { DeploymentStatus, DeployStep, Runtime } from '../../lib/contracts/index.js';
import type { WebhookRetry } from '../webhooks/config.js';

export interface DeployInput {
  deploymentId: string;
  agentId: string;
  ownerId: string;
  runtime: Runtime;
  /** Who asked (`user:<id>`), for the audit entry of the outcome; `platform` when absent. */
  actor?: string;
  healthCheck?: { attempts: number; initialIntervalMs: number };
  /** How the webhooks of its outcome are retried; tests shorten it (workflows/webhooks/config.ts has the default). */
  webhookRetry?: WebhookRetry;
}

export interface DeployResult {
  deploymentId: string;
  versionRef: string;
  artifactDigest: string;
}

export interface DeployProgress {
  deploymentId: string;
  status: DeploymentStatus;
  step: DeployStep;
  completedSteps: DeployStep[];
}

/** Where the deploy is now; the api shows it on `GET /v1/deployments/:id`. */
export const progressQuery = defineQuery<DeployProgress>('progress');
