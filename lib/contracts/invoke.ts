import { z } from 'zod';

/** invoke/v1 request body (architecture.md, Contracts). */
export const InvokeBody = z.strictObject({
  input: z.unknown(),
  sessionId: z.string().min(1).max(256).optional(),
  stream: z.boolean().optional(),
});
export type InvokeBody = z.infer<typeof InvokeBody>;

export const InvokeUsage = z.object({
  durationMs: z.number(),
  inputBytes: z.number().int(),
  outputBytes: z.number().int(),
});
export type InvokeUsage = z.infer<typeof InvokeUsage>;

export const InvokeResponse = z.object({
  output: z.unknown(),
  sessionId: z.string(),
  deploymentId: z.string(),
  usage: InvokeUsage,
  requestId: z.string(),
});
export type InvokeResponse = z.infer<typeof InvokeResponse>;

/** SSE event names of a streamed invoke, in the order a client sees them. */
export const InvokeEvent = z.enum(['meta', 'delta', 'usage', 'done', 'error']);
export type InvokeEvent = z.infer<typeof InvokeEvent>;

/** Header that carries the session id from the gateway to the agent. */
export const SESSION_HEADER = 'x-webhost-session-id';
/** Largest invoke body the gateway accepts. */
export const INVOKE_MAX_BODY_BYTES = 1024 * 1024;
