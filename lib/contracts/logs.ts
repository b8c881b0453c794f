import { z } from 'zod';

// Log lines: what an agent writes with `console.*`, captured by the shim inside its isolate,
// posted in the signed telemetry batch (./telemetry.ts), kept per agent (bounded, and by the
// tier's retention) and read as a page or a live tail (`GET /v1/agents/:id/logs`, DESIGN.md §5).

export const LogLevel = z.enum(['debug', 'info', 'log', 'warn', 'error']);
export type LogLevel = z.infer<typeof LogLevel>;

/** A line's message, at most (the shim cuts longer ones and marks the cut with `…`). */
export const LOG_MESSAGE_MAX = 2048;
/** Lines in one signed batch, at most (the shim sends fewer: it also bounds a batch's bytes). */
export const LOG_BATCH_MAX = 1000;
/** Lines kept per agent; appending past it deletes the oldest in the same transaction. */
export const LOGS_PER_AGENT_MAX = 10_000;

/** A shim line id: `log:<isolate nonce>:<counter>`, unique like event ids, so a redelivered batch keeps each line once. */
export const SHIM_LOG_ID = /^log:[\w:=.-]+$/;

/** One line as the shim signs and posts it. */
export const ShimLogLine = z.strictObject({
  id: z.string().min(1).max(128).regex(SHIM_LOG_ID, 'a shim log line id starts with log:'),
  at: z.iso.datetime(),
  level: LogLevel,
  message: z.string().max(LOG_MESSAGE_MAX),
  /** The gateway's request id of the call that wrote it, when the shim could tell. */
  requestId: z.string().max(64).optional(),
  sessionId: z.string().max(256).optional(),
});
export type ShimLogLine = z.infer<typeof ShimLogLine>;

/**
 * A line as kept and read. `seq` orders an agent's lines (it grows by append, gaps allowed) and
 * is the SSE event id a tail resumes after. `dropped` is non-zero only on the line the store
 * writes when the shim reported lines it had to drop (its buffer was full or its posts failed).
 */
export interface LogLine {
  seq: number;
  id: string;
  deploymentId: string;
  at: string;
  level: LogLevel;
  message: string;
  requestId: string | null;
  sessionId: string | null;
  dropped: number;
}

/** The id of the line that reports `dropped` lines, fixed by the batch's first line so a redelivery keeps it once. */
export const droppedLineId = (firstLineId: string) => `dropped:${firstLineId}`.slice(0, 128);
export const droppedMessage = (n: number) => `${n} log line${n === 1 ? ' was' : 's were'} dropped by the agent's shim`;
