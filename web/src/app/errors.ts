import type { ErrorEnvelope } from '../../../lib/contracts/errors.js';

/** An api or gateway error, as its envelope said it (DESIGN.md §5): code, message and request id. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

interface Answer {
  ok: boolean;
  status: number;
  headers: Headers;
  json(): Promise<unknown>;
  text(): Promise<string>;
}

/** The error an answer that is not 2xx stands for; a body that is no envelope still gives status and request id. */
export async function errorOf(res: Answer): Promise<ApiError> {
  const requestId = res.headers.get('x-request-id');
  const text = await res.text().catch(() => '');
  try {
    const { error } = JSON.parse(text) as ErrorEnvelope;
    if (error && typeof error.message === 'string')
      return new ApiError(res.status, error.code, error.message, error.requestId ?? requestId, error.details);
  } catch {
    // not JSON: a proxy's or a server's own page
  }
  return new ApiError(
    res.status,
    'http_error',
    `the server answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
    requestId,
  );
}

/**
 * The typed body of a `hc` answer (what the route's `c.json(…)` declared), or the thrown
 * `ApiError` of its envelope. 202/204 without a body give null.
 */
export async function unwrap<R extends Answer>(
  pending: Promise<R>,
): Promise<R extends { json(): Promise<infer T> } ? T : never> {
  const res = await pending;
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return null as never;
  return (await res.json()) as never;
}
