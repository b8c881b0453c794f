import { z } from 'zod';
import { Id } from './common.js';
import { LOG_BATCH_MAX, ShimLogLine } from './logs.js';
import { TELEMETRY_BATCH_MAX, TelemetryEvent } from './usage.js';

// The signed telemetry batch the shim posts to the api (`POST /v1/telemetry`, DESIGN.md §5).
// The quantities and limits are in ./usage.ts; this is the envelope around them.

/** Which deployment signed the batch (its key signs it). */
export const TELEMETRY_DEPLOYMENT_HEADER = 'x-webhost-deployment';
/** When it was signed, in unix seconds; the api accepts it within `TELEMETRY_WINDOW_S` of its own clock. */
export const TELEMETRY_TIMESTAMP_HEADER = 'x-webhost-timestamp';
/** Hex HMAC-SHA256 of `<timestamp>.<body>` under the deployment's telemetry key. */
export const TELEMETRY_SIGNATURE_HEADER = 'x-webhost-signature';

/**
 * Shim event ids are `inv:…` (an invocation) or `bg:…` (background work). A gateway request
 * id never holds `:` (hono's request-id middleware keeps only `[\w=-]`), so a shim event can
 * never take the id of a request the gateway meters in the same deployment's event space.
 */
export const SHIM_EVENT_ID = /^(inv|bg):[\w:=.-]+$/;

/**
 * The body the shim signs: the agent it claims to be, its events, and the agent's `console.*`
 * lines with the count of lines the shim had to drop (sent with a batch that has lines). A
 * batch has at least one event or line.
 */
export const TelemetryBatch = z
  .strictObject({
    agentId: Id,
    events: z
      .array(
        TelemetryEvent.refine((e) => SHIM_EVENT_ID.test(e.id), {
          message: 'a shim event id starts with inv: or bg:',
          path: ['id'],
        }),
      )
      .max(TELEMETRY_BATCH_MAX)
      .refine((events) => new Set(events.map((e) => e.id)).size === events.length, 'event ids repeat within the batch'),
    logs: z
      .array(ShimLogLine)
      .max(LOG_BATCH_MAX)
      .refine((lines) => new Set(lines.map((l) => l.id)).size === lines.length, 'log line ids repeat within the batch')
      .optional(),
    droppedLogs: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .refine((b) => b.events.length > 0 || (b.logs?.length ?? 0) > 0, 'a batch has at least one event or log line')
  .refine((b) => !b.droppedLogs || (b.logs?.length ?? 0) > 0, {
    message: 'droppedLogs comes with at least one log line',
    path: ['droppedLogs'],
  });
export type TelemetryBatch = z.infer<typeof TelemetryBatch>;

/** What the api answers a batch it took: events new to it, and events it had already counted; the same for log lines. */
export const TelemetryAccepted = z.object({
  accepted: z.number().int(),
  duplicates: z.number().int(),
  logs: z.object({ accepted: z.number().int(), duplicates: z.number().int() }).optional(),
});
export type TelemetryAccepted = z.infer<typeof TelemetryAccepted>;
