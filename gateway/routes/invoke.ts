import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import {
  AppError,
  Id,
  INVOKE_MAX_BODY_BYTES,
  InvokeBody,
  type InvokeEvent,
  type InvokeResponse,
  type InvokeUsage,
} from '../../lib/contracts/index.js';
import { errorResponse } from '../../lib/http/errors.js';
import { limitBody, requireUser, type AuthedEnv } from '../../lib/http/middleware.js';
import { validate } from '../../lib/http/validate.js';
import { newId } from '../../lib/ids.js';
import { ProviderError, type AgentResponse } from '../../lib/runtime/provider.js';
import type { GatewayDeps } from '../deps.js';
import { agentEvents, joinDeltas, parseOutput } from '../relay.js';

/** How much of an agent's error body the gateway quotes back. */
const AGENT_ERROR_EXCERPT = 500;

/**
 * `POST /v1/agents/:agentId/invoke` (invoke/v1): auth → owner-scoped lookup of the agent and
 * the deployment that serves it (cached) → the runtime, directly. JSON answers come back as
 * `{ output, … }`; streams are relayed event by event as they arrive.
 */
export function invokeRoutes(deps: GatewayDeps) {
  return new Hono<AuthedEnv>().post(
    '/:agentId/invoke',
    limitBody(INVOKE_MAX_BODY_BYTES, (c) =>
      errorResponse(c, 'payload_too_large', `invoke bodies are limited to ${INVOKE_MAX_BODY_BYTES} bytes`),
    ),
    requireUser(deps.authenticate),
    validate('param', z.object({ agentId: Id })),
    validate('json', InvokeBody),
    async (c) => {
      const started = performance.now();
      const requestId = c.get('requestId');
      const body = c.req.valid('json');
      const target = await deps.serving.get(c.get('userId'), c.req.valid('param').agentId);
      if (!target.deployment)
        throw new AppError('runtime_unavailable', 'this agent has no live deployment; deploy it first');
      const deploymentId = target.deployment.id;
      const provider = deps.providers[target.deployment.runtime];
      if (!provider)
        throw new AppError(
          'runtime_unavailable',
          `the ${target.deployment.runtime} runtime is not available on this gateway`,
        );

      const sessionId = body.sessionId ?? newId('ses');
      const wantsStream = body.stream ?? (c.req.header('accept') ?? '').includes('text/event-stream');
      const payload = JSON.stringify({ input: body.input });
      let upstream: AgentResponse;
      try {
        upstream = await provider.invoke({
          versionRef: target.deployment.providerRef,
          deploymentId,
          body: payload,
          sessionId,
          requestId,
          accept: wantsStream ? 'text/event-stream, application/json' : 'application/json',
          // A stream stops when its caller goes away. (Touching the signal costs every
          // request an AbortController, so JSON calls, which are short, go without.)
          ...(wantsStream ? { signal: c.req.raw.signal } : {}),
        });
      } catch (err) {
        if (err instanceof ProviderError)
          throw new AppError('runtime_unavailable', 'the agent’s runtime did not answer; try again');
        throw err;
      }
      if (upstream.status < 200 || upstream.status >= 300) {
        const excerpt = (await upstream.text()).slice(0, AGENT_ERROR_EXCERPT);
        const code = upstream.status < 500 ? 'validation_failed' : 'runtime_unavailable';
        return errorResponse(c, code, `the agent answered ${upstream.status}`, {
          agentStatus: upstream.status,
          body: excerpt,
        });
      }

      const inputBytes = Buffer.byteLength(payload);
      const usage = (outputBytes: number): InvokeUsage => ({
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        inputBytes,
        outputBytes,
      });
      const isSse = upstream.contentType.startsWith('text/event-stream');

      if (wantsStream) {
        return streamSSE(c, async (stream) => {
          // Only the event names of invoke/v1 go out.
          const send = (event: InvokeEvent, data: string) => stream.writeSSE({ event, data });
          await send('meta', JSON.stringify({ requestId, sessionId, deploymentId }));
          let outputBytes = 0;
          try {
            if (isSse) {
              for await (const ev of agentEvents(upstream.body)) {
                outputBytes += Buffer.byteLength(ev);
                await send('delta', ev);
              }
            } else {
              const text = await upstream.text();
              outputBytes = Buffer.byteLength(text);
              await send('delta', JSON.stringify({ output: parseOutput(text) }));
            }
            await send('usage', JSON.stringify(usage(outputBytes)));
            await send('done', JSON.stringify({ requestId }));
          } catch (err) {
            // The caller hung up: the upstream request was aborted with it; nothing to tell anyone.
            if (stream.aborted || c.req.raw.signal.aborted) return;
            deps.log.warn({ err, requestId }, 'stream from agent broke off');
            await send(
              'error',
              JSON.stringify({ code: 'runtime_unavailable', message: 'the agent’s stream broke off', requestId }),
            );
          }
        });
      }

      let output: unknown;
      let outputBytes: number;
      if (isSse) {
        const events: string[] = [];
        for await (const ev of agentEvents(upstream.body)) events.push(ev);
        output = joinDeltas(events);
        outputBytes = events.reduce((n, e) => n + Buffer.byteLength(e), 0);
      } else {
        const text = await upstream.text();
        output = parseOutput(text);
        outputBytes = Buffer.byteLength(text);
      }
      const response: InvokeResponse = { output, sessionId, deploymentId, usage: usage(outputBytes), requestId };
      return c.json(response);
    },
  );
}
