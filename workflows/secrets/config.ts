/** One workflow per change of a secret: its version is part of the id, so each change runs once. */
export const secretWorkflowId = (agentId: string, name: string, version: number) =>
  `secret-${agentId}-${name}-${version}`;

export const SECRET_WORKFLOW_KIND = 'secret';

/** How long the api waits for a change to be applied before it answers 202 with the workflow to watch. */
export const SECRET_WAIT_MS = 20_000;
