import { httpInstrumentationMiddleware } from '@hono/otel';
import { ProxyTracerProvider, trace } from '@opentelemetry/api';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import { requestId } from 'hono/request-id';
import { routePath } from 'hono/route';
import type { Authenticator } from '../auth/verify.js';
import { newId } from '../ids.js';
import type { Logger } from '../log.js';

/** `apiKeyId`: the API key the caller presented, when it was one (the gateway attributes usage to it). */
export type AuthedEnv = { Variables: { requestId: string; userId: string; apiKeyId?: string } };

/**
 * Each request is a server span (README, "Traces"), continuing the caller's W3C `traceparent`
 * when it sends one, named by its route (`POST /v1/agents/:id/deployments`), never its ids.
 * Decided when the app is made: with no tracer provider registered (lib/tracing.ts registers one
 * only with an OTLP endpoint) it passes requests straight on, so the invoke path pays nothing.
 */
export const withTracing = (serviceName: string) =>
  tracerRegistered()
    ? httpInstrumentationMiddleware({ serviceName, captureActiveRequests: false })
    : createMiddleware(async (_c, next) => next());

function tracerRegistered(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegateTracer('webhost') !== undefined;
}

/** Tags the request's span with its request id and, once authenticated, its user: what log lines carry too. */
export const tagSpan = () =>
  createMiddleware<AuthedEnv>(async (c, next) => {
    const span = trace.getActiveSpan();
    if (!span?.isRecording()) return next();
    span.setAttribute('webhost.request_id', c.get('requestId'));
    await next();
    const userId = c.get('userId');
    if (userId) span.setAttribute('enduser.id', userId);
  });

/**
 * One JSON log line per request, when it ends: request id, method, route (never the path's
 * ids or query), status, error code, duration and user, with the trace ids (lib/log.ts).
 */
export const accessLog = (log: Logger) =>
  createMiddleware<AuthedEnv>(async (c, next) => {
    const started = performance.now();
    await next();
    log.info(
      {
        requestId: c.get('requestId'),
        method: c.req.method,
        route: routePath(c, -1),
        status: c.res.status,
        ms: Math.round(performance.now() - started),
        ...(c.get('errorCode') ? { code: c.get('errorCode') } : {}),
        ...(c.get('userId') ? { userId: c.get('userId') } : {}),
      },
      'request',
    );
  });

/** Every response carries `X-Request-Id`; a caller's own id is kept if it is sane. */
export const withRequestId = () =>
  requestId({ headerName: 'X-Request-Id', limitLength: 128, generator: () => newId('req') });

/**
 * The gateway's request id: always its own, never the caller's, because it is the id of the
 * invoke's usage event — a caller who could choose it could make invokes count as one.
 */
export const withOwnRequestId = () =>
  createMiddleware<AuthedEnv>(async (c, next) => {
    const id = newId('req');
    c.set('requestId', id);
    c.header('X-Request-Id', id);
    await next();
  });

/** Requires a verified bearer token; sets `userId`. `onUser` sees each user once per process. */
export function requireUser(authenticate: Authenticator, onUser?: (userId: string) => Promise<void>) {
  const seen = new Set<string>();
  return createMiddleware<AuthedEnv>(async (c, next) => {
    const { userId } = await authenticate(c.req.header('authorization'));
    if (onUser && !seen.has(userId)) {
      await onUser(userId);
      seen.add(userId);
    }
    c.set('userId', userId);
    await next();
  });
}

/**
 * Refuses bodies over `maxSize`. A declared Content-Length is checked from the header, so
 * the body is then read on @hono/node-server's fast path; only a chunked body goes through
 * hono's `bodyLimit`, which counts it as it streams (and builds a WHATWG Request to do so).
 */
export function limitBody(maxSize: number, onTooLarge: (c: Context) => Response) {
  // The rest of a refused body is never read: the connection closes after the answer.
  const onError = (c: Context) => {
    c.header('Connection', 'close');
    return onTooLarge(c);
  };
  const streaming = bodyLimit({ maxSize, onError });
  return createMiddleware(async (c, next) => {
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      return Number(length) > maxSize ? onError(c) : next();
    }
    return streaming(c, next);
  });
}
