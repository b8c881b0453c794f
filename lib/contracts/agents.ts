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

export const UpdateAgentBody = z
  .strictObject({ name: AgentName.optional() })
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
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Agent = z.infer<typeof Agent>;
