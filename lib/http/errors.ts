import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { AppError, errorStatus, type ErrorCode, type ErrorEnvelope } from '../contracts/index.js';
import type { Logger } from '../log.js';

function errorBody(c: Context, code: ErrorCode, message: string, details?: unknown): ErrorEnvelope {
  return {
    error: { code, message, ...(details === undefined ? {} : { details }), requestId: c.get('requestId') ?? 'unknown' },
  };
}

export function errorResponse(c: Context, code: ErrorCode, message: string, details?: unknown): Response {
  c.set('errorCode', code);
  return c.json(errorBody(c, code, message, details), errorStatus[code]);
}

/**
 * The one error handler of the api and the gateway: `AppError`s are answered as they say;
 * anything else is logged with the request id and answered as a generic `internal`.
 */
export function onError(log: Logger): ErrorHandler {
  return (err, c) => {
    if (err instanceof AppError) return errorResponse(c, err.code, err.message, err.details);
    if (err instanceof HTTPException) {
      if (err.status === 413) return errorResponse(c, 'payload_too_large', 'request body is too large');
      if (err.status === 401) return errorResponse(c, 'unauthorized', 'missing or invalid credentials');
      if (err.status === 400) return errorResponse(c, 'validation_failed', err.message || 'malformed request');
    }
    log.error({ err, requestId: c.get('requestId'), path: c.req.path }, 'unhandled error');
    return errorResponse(c, 'internal', 'internal error; quote the request id when reporting it');
  };
}

export const notFoundRoute: NotFoundHandler = (c) =>
  errorResponse(c, 'not_found', `no route ${c.req.method} ${c.req.path}`);
