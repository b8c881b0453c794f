import { Hono } from 'hono';
import { z } from 'zod';
import { AppError } from '../../lib/contracts/index.js';
import type { AuthedEnv } from '../../lib/http/middleware.js';
import { validate } from '../../lib/http/validate.js';
import type { ApiDeps } from '../deps.js';

/** A user id as tokens carry it (`sub`), the same rule the authenticator applies. */
const LocalSignInBody = z.strictObject({
  userId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, '1 to 64 letters, digits, dashes or underscores'),
});

/**
 * `POST /auth/local-token { userId }` → `{ token, userId, mode: 'local' }`: the dashboard's sign-in
 * when the platform runs without Clerk (embedded mode, local key pair). It is what
 * `npm run token -- <user>` does, over HTTP: anyone who can reach the api can be anyone, which is
 * the point of the local mode and why it exists only there. With Clerk configured
 * (`deps.localSignIn` absent) every call is refused with `forbidden`.
 */
export function localAuthRoutes(deps: ApiDeps) {
  return new Hono<AuthedEnv>().post('/local-token', validate('json', LocalSignInBody), async (c) => {
    if (!deps.localSignIn)
      throw new AppError(
        'forbidden',
        'local sign-in is off: this platform verifies Clerk sessions; sign in with Clerk',
      );
    const { userId } = c.req.valid('json');
    const token = await deps.localSignIn(userId);
    c.header('Cache-Control', 'no-store');
    return c.json({ token, userId, mode: 'local' as const });
  });
}
