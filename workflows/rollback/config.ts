/** One rollback workflow per (agent, target): a repeated request while it runs joins it. */
export const rollbackWorkflowId = (agentId: string, deploymentId: string) => `rollback-${agentId}-${deploymentId}`;

export const ROLLBACK_WORKFLOW_KIND = 'rollback';
