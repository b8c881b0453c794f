import { Hono } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import { z } from 'zod';
import { Id, PageQuery, type LogLine } from '../../lib/contracts/index.js';
import type { AuthedEnv } from '../../lib/http/middleware.js';
import { validate } from '../../lib/http/validate.js';
import type { ApiDeps } from '../deps.js';

/** How a tail paces itself; tests shorten them. */
export interface LogTailTiming {
  /** How often it asks the store for new lines. */
  pollMs: number;
  /** How often an idle tail sends a comment, so proxies keep it open. */
  heartbeatMs: number;
  /** How long one tail stays open; then it ends and the client reconnects with `Last-Event-ID`. */
  maxMs: number;
}
export const LOG_TAIL_TIMING: LogTailTiming = { pollMs: 500, heartbeatMs: 15_000, maxMs: 10 * 60_000 };

/** Lines a tail sends first when it does not resume (no `Last-Event-ID`): the newest ones. */
const TAIL_BACKLOG = 100;
/** Lines per read of the store while a tail catches up. */
const TAIL_READ = 500;
/** What an `EventSource` waits before it reconnects, told in the stream (`retry:`). */
const RECONNECT_MS = 1000;

/**
 * `GET /v1/agents/:agentId/logs?limit=&cursor=`: the agent's lines, newest first
 * (`{ items, nextCursor }`). With `Accept: text/event-stream`, a live tail:
 * - each line is `event: log` (`event: dropped` for the line that reports lines the shim
 *   dropped), `id:` its seq, data the line as JSON;
 * - it starts after `Last-Event-ID` when given (a reconnect), else with the newest
 *   `TAIL_BACKLOG` lines, then sends new ones as they are kept;
 * - seqs of an agent are consecutive, so lines deleted before the tail read them (the
 *   per-agent bound, retention) show as a gap: it sends `event: dropped` with
 *   `{ dropped, afterSeq }` and goes on;
 * - a comment every `heartbeatMs` while idle; it ends after `maxMs` (`event: end`), and the
 *   client reconnects with `Last-Event-ID` (the stream's `retry:` says how soon).
 * Another owner's agent, or a deleted one, is 404 before any stream starts.
 */
export function logRoutes(deps: ApiDeps, timing: LogTailTiming = LOG_TAIL_TIMING) {
  const { store } = deps;
  return new Hono<AuthedEnv>().get(
    '/agents/:agentId/logs',
    validate('param', z.object({ agentId: Id })),
    validate('query', PageQuery),
    async (c) => {
      const ownerId = c.get('userId');
      const { agentId } = c.req.valid('param');
      if (!(c.req.header('accept') ?? '').includes('text/event-stream')) {
        const { limit, cursor } = c.req.valid('query');
        return c.json(await store.listLogs({ ownerId, agentId, limit, ...(cursor ? { cursor } : {}) }));
      }

      const resumeFrom = lastEventId(c.req.header('last-event-id'));
      // read before the stream opens: another owner's agent is a 404, not an empty stream
      const first =
        resumeFrom === null
          ? (await store.listLogs({ ownerId, agentId, limit: TAIL_BACKLOG })).items.reverse()
          : await store.listLogsAfter({ ownerId, agentId, after: resumeFrom, limit: TAIL_READ });
      return streamSSE(c, async (stream) => {
        const ends = Date.now() + timing.maxMs;
        let idleSince = Date.now();
        let wake: (() => void) | null = null;
        stream.onAbort(() => wake?.());
        // the first line of a fresh tail has nothing before it to have lost
        let last = resumeFrom ?? (first[0] ? first[0].seq - 1 : 0);
        await stream.write(`retry: ${RECONNECT_MS}\n\n`);
        let batch = first;
        while (!stream.aborted) {
          for (const line of batch) {
            if (line.seq > last + 1) {
              await stream.writeSSE({
                event: 'dropped',
                data: JSON.stringify({ dropped: line.seq - last - 1, afterSeq: last }),
              });
            }
            await sendLine(stream, line);
            last = line.seq;
            idleSince = Date.now();
          }
          if (batch.length === TAIL_READ) {
            batch = await store.listLogsAfter({ ownerId, agentId, after: last, limit: TAIL_READ });
            continue;
          }
          if (Date.now() >= ends) {
            await stream.writeSSE({ event: 'end', data: JSON.stringify({ reconnect: true, lastSeq: last }) });
            break;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, Math.min(timing.pollMs, Math.max(0, ends - Date.now()))).unref();
          });
          wake = null;
          if (stream.aborted) break;
          if (Date.now() - idleSince >= timing.heartbeatMs) {
            await stream.write(': keep-alive\n\n');
            idleSince = Date.now();
          }
          try {
            batch = await store.listLogsAfter({ ownerId, agentId, after: last, limit: TAIL_READ });
          } catch (err) {
            // the agent was deleted under the tail, or the store failed: say so and end; the client reconnects
            deps.log.warn({ err, agentId, requestId: c.get('requestId') }, 'log tail stopped');
            await stream.writeSSE({ event: 'error', data: JSON.stringify({ message: 'the tail stopped; reconnect' }) });
            break;
          }
        }
      });
    },
  );
}

function sendLine(stream: SSEStreamingApi, line: LogLine) {
  return stream.writeSSE({
    id: String(line.seq),
    event: line.dropped > 0 ? 'dropped' : 'log',
    data: JSON.stringify(line),
  });
}

/** `Last-Event-ID` as a seq; anything else starts a fresh tail. */
function lastEventId(header: string | undefined): number | null {
  if (header === undefined || !/^\d{1,15}$/.test(header.trim())) return null;
  return Number(header.trim());
}
