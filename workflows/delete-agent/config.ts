/** One delete workflow per agent: a repeated delete joins the one already running. */
export const deleteAgentWorkflowId = (agentId: string) => `delete-${agentId}`;

export const DELETE_AGENT_WORKFLOW_KIND = 'delete-agent';

/** Patch id: teardown covers every runtime the agent used, forgets its secrets' metadata and audits. */
export const FORGETS_SECRETS_PATCH = 'delete-forgets-secrets';
