import { z } from 'zod';
import { Runtime } from './common.js';

export const AgentName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'lowercase letters, digits and inner dashes (like a DNS label)');

export const CreateAgentBody = z.strictObject({
  name: AgentName,
  runtime: Runtime.default('local'),
});
export type CreateAgentBody = z.infer<typeof CreateAgentBody>;

/** `PATCH /v1/agents/:id`: rename, or move to another runtime from the next deploy on. */
export const UpdateAgentBody = z
  .strictObject({ name: AgentName.optional(), runtime: Runtime.optional() })
  .refine((b) => Object.keys(b).length > 0, 'nothing to update');
export type UpdateAgentBody = z.infer<typeof UpdateAgentBody>;

export const AgentStatus = z.enum(['active', 'deleted']);

export const Agent = z.object({
  id: z.string(),
  ownerId: z.string(),
  name: z.string(),
  runtime: Runtime,
  status: AgentStatus,
  activeDeploymentId: z.string().nullable(),
  /** The rollback workflow that holds the agent's one in-flight slot, if one does. */
  rollbackWorkflowId: z.string().nullable(),
  /**
   * Set while the agent is paused: its owner's tier no longer covers it (a downgrade). It is kept,
   * not deleted, and answers `entitlement_required` until a tier that allows it resumes it.
   */
  pausedAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Agent = z.infer<typeof Agent>;
