import { z } from 'zod';

/** How deep an invoke's input may nest (arrays and objects); deeper is refused as malformed. */
export const INPUT_MAX_DEPTH = 64;

/** How deeply a parsed JSON value nests, counted without recursion (so no input can overflow a stack). */
export function jsonDepth(value: unknown, stopAfter = Infinity): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    const d = depth + 1;
    if (d > deepest) deepest = d;
    if (deepest > stopAfter) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d]);
  }
  return deepest;
}

/**
 * A session id travels to the agent as a header: visible ASCII, spaces only inside, so no
 * control character, line break or non-ASCII byte can reach (or break) the request.
 */
export const SessionId = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/, 'printable ASCII without leading or trailing spaces');

/** invoke/v1 request body (architecture.md, Contracts). */
export const InvokeBody = z.strictObject({
  input: z.unknown().refine((v) => jsonDepth(v, INPUT_MAX_DEPTH) <= INPUT_MAX_DEPTH, {
    message: `input nests deeper than ${INPUT_MAX_DEPTH} levels`,
  }),
  sessionId: SessionId.optional(),
  stream: z.boolean().optional(),
});
export type InvokeBody = z.infer<typeof InvokeBody>;

export const InvokeUsage = z.object({
  durationMs: z.number(),
  inputBytes: z.number().int(),
  outputBytes: z.number().int(),
  /** Tokens the agent reported in its answer (its `usage`); 0 when it reported none. */
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
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
