import { createMiddleware } from 'hono/factory';
import { requestId } from 'hono/request-id';
import { AppError } from '../contracts/index.js';
import type { Authenticator } from '../auth/verify.js';
import { newId } from '../ids.js';

export type AuthedEnv = { Variables: { requestId: string; userId: string } };

/** Every response carries `X-Request-Id`; a caller's own id is kept if it is sane. */
export const withRequestId = () =>
  requestId({ headerName: 'X-Request-Id', limitLength: 128, generator: () => newId('req') });

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

/** Reads a JSON body and refuses anything that is not JSON with the error envelope. */
export async function readJson(req: Request): Promise<unknown> {
  const type = req.headers.get('content-type') ?? '';
  if (!/^application\/(.+\+)?json\b/i.test(type)) throw new AppError('validation_failed', 'send a JSON body with Content-Type: application/json');
  try {
    return await req.json();
  } catch {
    throw new AppError('validation_failed', 'body is not valid JSON');
  }
}
