import { z } from 'zod';

/** Stable error codes (architecture.md, Contracts). Clients branch on these, never on messages. */
export const ErrorCode = z.enum([
  'unauthorized',
  'forbidden',
  'not_found',
  'validation_failed',
  'conflict',
  'entitlement_required',
  'limit_exceeded',
  'payload_too_large',
  'headers_too_large',
  'runtime_unavailable',
  'reply_too_large',
  'timeout',
  'internal',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const errorStatus: Record<ErrorCode, 400 | 401 | 403 | 404 | 409 | 413 | 429 | 431 | 500 | 502 | 503 | 504> = {
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  validation_failed: 400,
  conflict: 409,
  entitlement_required: 403,
  limit_exceeded: 429,
  payload_too_large: 413,
  headers_too_large: 431,
  runtime_unavailable: 503,
  /** The agent's answer passed the reply size limit. */
  reply_too_large: 502,
  /** The agent did not answer within the invoke time limit. */
  timeout: 504,
  internal: 500,
};

export const ErrorEnvelope = z.object({
  error: z.object({
    code: ErrorCode,
    message: z.string(),
    details: z.unknown().optional(),
    requestId: z.string(),
  }),
});
export type ErrorEnvelope = z.infer<typeof ErrorEnvelope>;

/** An error that is meant for the caller: its code and message are safe to return. */
export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new AppError('not_found', `${what} not found`);
