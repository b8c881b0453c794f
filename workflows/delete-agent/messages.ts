import { defineQuery } from '@temporalio/workflow';
import type { Runtime } from '../../lib/contracts/index.js';

export interface DeleteAgentInput {
  ownerId: string;
  agentId: string;
  /** The runtime the agent's versions live on. */
  runtime: Runtime;
}

export interface DeleteAgentResult {
  agentId: string;
}

export type DeleteAgentStep = 'destroy_runtime' | 'done';

/** Where the delete is; operators read it in Temporal UI. */
export const deleteProgressQuery = defineQuery<{ agentId: string; step: DeleteAgentStep }>('progress');
