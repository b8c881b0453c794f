import { timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import { z } from 'zod';
import { AppError, Id, Tier, type User } from '../../lib/contracts/index.js';
import type { AuthedEnv } from '../../lib/http/middleware.js';
import { validate } from '../../lib/http/validate.js';
import type { Store } from '../../lib/store/index.js';
import type { ApiDeps } from '../deps.js';

const sameToken = (given: string, wanted: string) => {
  const a = Buffer.from(given);
  const b = Buffer.from(wanted);
  return a.length === b.length && timingSafeEqual(a, b);
};

/**
 * Operator routes, for `npm run admin` while the platform holds the store (embedded PGlite
 * admits one process). Only the operator token opens them (lib/auth/platform-keys.ts); a
 * platform composed without one answers 401 to every call.
 *
 * `PUT /admin/users/:userId/tier { tier }` → 200 the user: sets a user's tier (setTierAsOperator).
 */
export function adminRoutes(deps: ApiDeps) {
  return new Hono<AuthedEnv>()
    .use('*', async (c, next) => {
      const header = c.req.header('authorization') ?? '';
      const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
      if (!deps.operatorToken || !token || !sameToken(token, deps.operatorToken)) {
        throw new AppError('unauthorized', 'missing or invalid operator token');
      }
      await next();
    })
    .put(
      '/users/:userId/tier',
      validate('param', z.object({ userId: Id })),
      validate('json', z.strictObject({ tier: Tier })),
      async (c) => c.json(await setTierAsOperator(deps.store, c.req.valid('param').userId, c.req.valid('json').tier)),
    );
}

/**
 * Sets a user's tier and audits it (`user.tier_set`, actor `operator`) in the same transaction;
 * a downgrade pauses the agents past the new tier, an upgrade resumes those it allows (both
 * audited too). A user the platform has not seen yet is created first, as their first request
 * would (ids are auth subjects), so a tier can be set before they sign in.
 */
export async function setTierAsOperator(store: Store, userId: string, tier: Tier): Promise<User> {
  const now = new Date();
  await store.ensureUser(userId, now);
  const before = await store.getUser(userId);
  const { user } = await store.changeUserPlan({
    userId,
    tier,
    now,
    audit: {
      actor: 'operator',
      action: 'user.tier_set',
      targetType: 'user',
      targetId: userId,
      details: { from: before.tier, to: tier },
    },
  });
  return user;
}
