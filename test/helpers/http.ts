import { expect } from 'vitest';
import { ErrorEnvelope, type ErrorCode } from '../../lib/contracts/index.js';

type Fetchable = { request: (path: string, init?: RequestInit) => Response | Promise<Response> };

/** `app.request()` with a bearer token and a JSON body. */
export function client(app: Fetchable) {
  return async (
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
  ) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (method === 'GET' || method === 'HEAD') body = undefined;
    else if (opts.rawBody !== undefined) body = opts.rawBody;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await app.request(path, { method, headers, ...(body === undefined ? {} : { body }) });
    return res;
  };
}

/**
 * A user's JSON calls to a running api over HTTP, answering the status and the parsed body.
 * `to` is read on each call, so it may name a platform started later (in `beforeAll`).
 */
export function jsonApi(to: () => { url: string; token: string }) {
  return async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const { url, token } = to();
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
}

/** Asserts the error envelope, its status and code, and that it carries the response's request id. */
export async function expectError(res: Response, status: number, code: ErrorCode) {
  expect(res.status).toBe(status);
  const body = ErrorEnvelope.parse(await res.json());
  expect(body.error.code).toBe(code);
  expect(body.error.requestId).toBe(res.headers.get('x-request-id'));
  return body.error;
}

/** A sample's value in a Prometheus text exposition, matched by name and (a subset of) labels; 0 when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const sampleLabels = Object.fromEntries(
      [...line.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]),
    );
    if (Object.entries(labels).every(([k, v]) => sampleLabels[k] === v)) total += Number(line.split(' ').at(-1));
  }
  return total;
}
