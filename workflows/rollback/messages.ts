import { defineQuery } from '@temporalio/workflow';

export interface RollbackInput {
  ownerId: string;
  agentId: string;
  /** The deployment to serve again: one of this agent's that reached `live`. */
  deploymentId: string;
  /** Who asked (`user:<id>`), for the audit log. */
  actor: string;
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
