import type { ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import {
  AppError,
  END_USER_HEADER,
  EndUser,
  errorStatus,
  type ErrorCode,
  Id,
  INVOKE_MAX_BODY_BYTES,
  InvokeBody,
  type InvokeEvent,
  type InvokeResponse,
  type InvokeUsage,
  type TokenCounts,
} from '../../lib/contracts/index.js';
import { errorResponse } from '../../lib/http/errors.js';
import { idempotency } from '../../lib/http/idempotency.js';
import { limitBody, type AuthedEnv } from '../../lib/http/middleware.js';
import { validate } from '../../lib/http/validate.js';
import { newId } from '../../lib/ids.js';
import { AgentStoppedError, ProviderError, type AgentResponse } from '../../lib/runtime/provider.js';
import { requireCaller } from '../auth.js';
import type { GatewayDeps } from '../deps.js';
import {
  agentEvents,
  joinDeltas,
  limited,
  parseOutput,
  readExcerpt,
  readText,
  ReplyTooLarge,
  tokensInText,
} from '../relay.js';

/** How much of an agent's error body the gateway quotes back. */
const AGENT_ERROR_EXCERPT = 500;

/**
 * `POST /v1/agents/:agentId/invoke` (invoke/v1): auth (a user token or an API key) → owner-scoped lookup of the agent and
 * the deployment that serves it (cached) → the runtime, directly. JSON answers come back as
 * `{ output, … }`; streams are relayed event by event as they arrive. Every invoke is bounded
 * (architecture.md, Limits): a JSON answer by the invoke time limit, a stream by the stream
 * time limit, either by the reply size limit; a caller who leaves releases the agent's
 * connection at once.
 */
export function invokeRoutes(deps: GatewayDeps) {
  const { limits } = deps;
  return new Hono<AuthedEnv>().post(
    '/:agentId/invoke',
    limitBody(INVOKE_MAX_BODY_BYTES, (c) =>
      errorResponse(c, 'payload_too_large', `invoke bodies are limited to ${INVOKE_MAX_BODY_BYTES} bytes`),
    ),
    requireCaller(deps),
    validate('param', z.object({ agentId: Id })),
    validate('json', InvokeBody),
    jsonOnlyIdempotency(),
    idempotency(deps.idempotency),
    async (c) => {
      const started = performance.now();
      const requestId = c.get('requestId');
      const body = c.req.valid('json');
      const target = await deps.serving.get(c.get('userId'), c.req.valid('param').agentId);
      if (!target.deployment)
        throw new AppError('runtime_unavailable', 'this agent has no live deployment; deploy it first');
      const deploymentId = target.deployment.id;
      const provider = deps.providers[target.deployment.runtime];
      if (!provider) {
        throw new AppError(
          'runtime_unavailable',
          `the ${target.deployment.runtime} runtime is not available on this gateway`,
        );
      }

      const endUser = endUserOf(c);
      await admit(c, deps, c.get('userId'));

      const sessionId = body.sessionId ?? newId('ses');
      const wantsStream = wantsSse(c, body);
      const payload = JSON.stringify({ input: body.input });
      const inputBytes = Buffer.byteLength(payload);
      const at = new Date().toISOString();
      let tokens: TokenCounts = { inputTokens: 0, outputTokens: 0 };
      /** Every invoke that reached this point is one usage event, whatever its end (DESIGN.md §6, metering). */
      const meter = (status: number, outputBytes: number) =>
        deps.meter?.record({
          id: requestId,
          at,
          ownerId: c.get('userId'),
          agentId: target.agent.id,
          deploymentId,
          runtime: target.deployment!.runtime,
          status,
          durationMs: Math.round((performance.now() - started) * 100) / 100,
          inputBytes,
          outputBytes,
          ...tokens,
          sessionId,
          endUser,
          apiKeyId: c.get('apiKeyId') ?? null,
        });
      const metered = (err: unknown) => {
        meter(err instanceof AppError ? errorStatus[err.code] : 500, 0);
        return err;
      };
      const exchange = boundedExchange(c, wantsStream ? limits.streamMaxMs : limits.invokeTimeoutMs);
      let upstream: AgentResponse;
      try {
        upstream = await provider.invoke({
          versionRef: target.deployment.providerRef,
          deploymentId,
          body: payload,
          sessionId,
          requestId,
          accept: wantsStream ? 'text/event-stream, application/json' : 'application/json',
          signal: exchange.signal,
        });
      } catch (err) {
        exchange.end();
        if (exchange.callerLeft()) {
          meter(CALLER_GONE, 0);
          return callerGone();
        }
        if (exchange.timedOut()) throw metered(timeout(limits.invokeTimeoutMs));
        if (err instanceof AgentStoppedError) throw metered(new AppError('runtime_unavailable', err.message));
        if (err instanceof ProviderError)
          throw metered(new AppError('runtime_unavailable', 'the agent’s runtime did not answer; try again'));
        throw metered(err);
      }
      if (upstream.status < 200 || upstream.status >= 300) {
        const excerpt = await readExcerpt(upstream.body, AGENT_ERROR_EXCERPT).catch(() => '');
        exchange.abortAndEnd();
        const code = upstream.status < 500 ? 'validation_failed' : 'runtime_unavailable';
        meter(errorStatus[code], Buffer.byteLength(excerpt));
        return errorResponse(c, code, `the agent answered ${upstream.status}`, {
          agentStatus: upstream.status,
          body: excerpt,
        });
      }

      const usage = (outputBytes: number): InvokeUsage => ({
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        inputBytes,
        outputBytes,
        ...tokens,
      });
      const noteTokens = (text: string) => {
        const found = tokensInText(text);
        if (found) tokens = found;
      };
      const isSse = upstream.contentType.startsWith('text/event-stream');

      if (wantsStream) {
        return streamSSE(c, async (stream) => {
          // Only the event names of invoke/v1 go out.
          const send = (event: InvokeEvent, data: string) => stream.writeSSE({ event, data });
          stream.onAbort(() => exchange.abortAndEnd());
          await send('meta', JSON.stringify({ requestId, sessionId, deploymentId }));
          let outputBytes = 0;
          let status = 200;
          try {
            if (isSse) {
              for await (const ev of agentEvents(limited(upstream.body, limits.replyMaxBytes))) {
                outputBytes += Buffer.byteLength(ev);
                noteTokens(ev);
                await send('delta', ev);
              }
            } else {
              const text = await readText(upstream.body, limits.replyMaxBytes);
              outputBytes = Buffer.byteLength(text);
              noteTokens(text);
              await send('delta', JSON.stringify({ output: parseOutput(text) }));
            }
            await send('usage', JSON.stringify(usage(outputBytes)));
            await send('done', JSON.stringify({ requestId }));
          } catch (err) {
            // The caller hung up: the upstream request was aborted with it; nothing to tell anyone.
            if (stream.aborted || exchange.callerLeft()) {
              status = CALLER_GONE;
              return;
            }
            const ended = streamEnd(err, exchange.timedOut(), limits.streamMaxMs);
            status = errorStatus[ended.code];
            if (ended.code === 'runtime_unavailable') deps.log.warn({ err, requestId }, 'stream from agent broke off');
            await send('error', JSON.stringify({ ...ended, requestId }));
          } finally {
            exchange.abortAndEnd();
            meter(status, outputBytes);
          }
        });
      }

      let output: unknown;
      let outputBytes: number;
      try {
        if (isSse) {
          const events: string[] = [];
          for await (const ev of agentEvents(limited(upstream.body, limits.replyMaxBytes))) {
            noteTokens(ev);
            events.push(ev);
          }
          output = joinDeltas(events);
          outputBytes = events.reduce((n, e) => n + Buffer.byteLength(e), 0);
        } else {
          const text = await readText(upstream.body, limits.replyMaxBytes);
          noteTokens(text);
          output = parseOutput(text);
          outputBytes = Buffer.byteLength(text);
        }
      } catch (err) {
        exchange.abortAndEnd();
        if (exchange.callerLeft()) {
          meter(CALLER_GONE, 0);
          return callerGone();
        }
        if (exchange.timedOut()) throw metered(timeout(limits.invokeTimeoutMs));
        if (err instanceof ReplyTooLarge) throw metered(new AppError('reply_too_large', err.message));
        throw metered(new AppError('runtime_unavailable', 'the agent’s answer broke off; try again'));
      }
      // read whole: the connection goes back to the pool
      exchange.end();
      const response: InvokeResponse = { output, sessionId, deploymentId, usage: usage(outputBytes), requestId };
      meter(200, outputBytes);
      return c.json(response);
    },
  );
}

const wantsSse = (c: Context, body: InvokeBody): boolean =>
  body.stream ?? (c.req.header('accept') ?? '').includes('text/event-stream');

/** A stream's answer is not kept, so it cannot be replayed: `Idempotency-Key` is for JSON invokes. */
function jsonOnlyIdempotency() {
  return createMiddleware<AuthedEnv>(async (c, next) => {
    if (c.req.header('idempotency-key') !== undefined && wantsSse(c, (await c.req.json()) as InvokeBody)) {
      throw new AppError('validation_failed', 'Idempotency-Key applies to JSON invokes; a stream cannot be replayed');
    }
    return next();
  });
}

/** The status an invoke is metered with when its caller hung up (nginx's "client closed request"). */
const CALLER_GONE = 499;
/** The caller hung up: there is nobody to answer, and nothing went wrong on our side. */
const callerGone = () => new Response(null, { status: CALLER_GONE });

/** `x-webhost-end-user`: the caller's own end user, to attribute usage to (opaque, at most 128 characters). */
function endUserOf(c: Context): string | null {
  const raw = c.req.header(END_USER_HEADER);
  if (raw === undefined) return null;
  const parsed = EndUser.safeParse(raw);
  if (!parsed.success)
    throw new AppError('validation_failed', `${END_USER_HEADER} must be 1 to 128 characters`, {
      header: END_USER_HEADER,
    });
  return parsed.data;
}

/** The monthly request limit (gateway/limits.ts); refused with `429 limit_exceeded` and `Retry-After`. */
async function admit(c: Context, deps: GatewayDeps, ownerId: string): Promise<void> {
  if (!deps.limiter) return;
  try {
    await deps.limiter.admit(ownerId);
  } catch (err) {
    if (err instanceof AppError && err.code === 'limit_exceeded') {
      const { retryAfterS } = err.details as { retryAfterS: number };
      c.header('Retry-After', String(retryAfterS));
    }
    throw err;
  }
}

const timeout = (limitMs: number) =>
  new AppError('timeout', `the agent did not answer within ${limitMs / 1000} s (invoke time limit)`);

/** The `error` event that ends a stream the gateway had to cut. */
function streamEnd(err: unknown, timedOut: boolean, streamMaxMs: number): { code: ErrorCode; message: string } {
  if (timedOut)
    return { code: 'timeout', message: `the stream reached its ${streamMaxMs / 1000} s limit (stream time limit)` };
  if (err instanceof ReplyTooLarge) return { code: 'reply_too_large', message: err.message };
  return { code: 'runtime_unavailable', message: 'the agent’s stream broke off' };
}

/** Why the gateway abandoned a call to an agent (made once: an Error per call would cost a stack trace). */
const TIME_LIMIT = new Error('time limit');
const CALLER_LEFT = new Error('caller left');
const DONE = new Error('done with the agent');

/**
 * The signal of one call to an agent: it aborts when the time limit passes or when the
 * caller leaves, and either way the agent's connection is released.
 */
function boundedExchange(c: Context, limitMs: number) {
  const controller = new AbortController();
  let timedOut = false;
  let callerLeft = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(TIME_LIMIT);
  }, limitMs);
  const onLeave = () => {
    callerLeft = true;
    controller.abort(CALLER_LEFT);
  };
  // On the Node server, the response's `close` tells that the caller left without making every
  // request pay for a WHATWG AbortSignal; under `app.request()` there is only the signal.
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  const onClose = () => {
    if (!outgoing?.writableFinished) onLeave();
  };
  if (outgoing) outgoing.once('close', onClose);
  else c.req.raw.signal.addEventListener('abort', onLeave, { once: true });
  const end = () => {
    clearTimeout(timer);
    if (outgoing) outgoing.off('close', onClose);
    else c.req.raw.signal.removeEventListener('abort', onLeave);
  };
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    callerLeft: () => callerLeft,
    end,
    /** Done with the agent before its answer was read whole: release its connection. */
    abortAndEnd() {
      end();
      controller.abort(DONE);
    },
  };
}
