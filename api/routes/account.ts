import { Hono } from 'hono';
import { PageQuery, periodOf, Runtime, runtimeAllowed, TIER_LIMITS } from '../../lib/contracts/index.js';
import type { AuthedEnv } from '../../lib/http/middleware.js';
import { validate } from '../../lib/http/validate.js';
import type { ApiDeps } from '../deps.js';

/**
 * `GET /v1/account`: who the caller is to the platform — tier, add-ons, what the tier allows,
 * and the current billing period's requests against its limit. `GET /v1/audit`: the caller's
 * audit log, newest first.
 */
export function accountRoutes(deps: ApiDeps) {
  const { store } = deps;
  return new Hono<AuthedEnv>()
    .get('/account', async (c) => {
      const user = await store.getUser(c.get('userId'));
      const limits = TIER_LIMITS[user.tier];
      const period = periodOf(new Date());
      const usage = await store.getUsage({ ownerId: user.id, period });
      return c.json({
        userId: user.id,
        tier: user.tier,
        addOns: user.addOns,
        entitlements: {
          agents: limits.agents,
          runtimes: Runtime.options.filter((r) => runtimeAllowed(user, r)),
          requestsPerPeriod: limits.requestsPerPeriod,
          retentionDays: limits.telemetryRetentionDays,
        },
        period: {
          id: period,
          requests: usage.reduce((n, u) => n + u.requests, 0),
          limit: limits.requestsPerPeriod,
        },
      });
    })
    .get('/audit', validate('query', PageQuery), async (c) =>
      c.json(await store.listAudit(c.get('userId'), c.req.valid('query'))),
    );
}
