import { defineQuery } from '@temporalio/workflow';
import type { Runtime } from '../../lib/contracts/index.js';

export interface DeleteAgentInput {
  ownerId: string;
  agentId: string;
  /** The runtime the agent's versions live on. */
  runtime: Runtime;
  /** Every runtime the agent ever had versions on (it may have moved); `runtime` when absent. */
  runtimes?: Runtime[];
  /** Who asked (`user:<id>`), for the audit log. */
  actor?: string;
}

export interface DeleteAgentResult {
  agentId: string;
}

export type DeleteAgentStep = 'destroy_runtime' | 'forget_secrets' | 'audit' | 'done';

/** Where the delete is; operators read it in Temporal UI. */
export const deleteProgressQuery = defineQuery<{ agentId: string; step: DeleteAgentStep }>('progress');
