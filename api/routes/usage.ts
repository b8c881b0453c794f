import { Hono } from 'hono';
import { z } from 'zod';
import {
  addTotals,
  estimateCostUsd,
  Id,
  MetricsQuery,
  periodOf,
  TIER_LIMITS,
  UsageQuery,
  zeroTotals,
  type MetricPoint,
  type UsageReport,
  type UsageTotals,
} from '../../lib/contracts/index.js';
import type { AuthedEnv } from '../../lib/http/middleware.js';
import { validate } from '../../lib/http/validate.js';
import type { ApiDeps } from '../deps.js';

/** End users listed in a usage report, at most. */
const END_USERS_SHOWN = 100;

/**
 * `GET /v1/usage?period=YYYY-MM` (the current period by default): the period's totals with
 * their estimated cost (lib/contracts/usage.ts, `PRICES`), by runtime, by agent and by end
 * user; a closed period answers its frozen totals. `GET /v1/agents/:id/metrics?from=&to=`:
 * an agent's hourly points, for charts.
 */
export function usageRoutes(deps: ApiDeps) {
  const { store } = deps;
  return new Hono<AuthedEnv>()
    .get('/usage', validate('query', UsageQuery), async (c) => {
      const ownerId = c.get('userId');
      const period = c.req.valid('query').period ?? periodOf(new Date());
      const [user, byRuntime, byAgent, byEndUser, billing] = await Promise.all([
        store.getUser(ownerId),
        store.getUsage({ ownerId, period }),
        store.getUsageByAgent({ ownerId, period }),
        store.getUsageByEndUser({ ownerId, period, limit: END_USERS_SHOWN }),
        store.getBillingPeriod({ ownerId, period }),
      ]);
      const names = await agentNames(deps, ownerId, new Set(byAgent.map((a) => a.agentId)));
      const costed = <T extends UsageTotals & { runtime: UsageReport['byRuntime'][number]['runtime'] }>(t: T) => ({
        ...t,
        costUsd: estimateCostUsd(t.runtime, t),
      });
      const runtimes = byRuntime.map(({ ownerId: _o, period: _p, ...t }) => costed(t));
      const totals =
        billing.status === 'closed' && billing.totals
          ? { ...billing.totals, costUsd: billing.costUsd ?? 0 }
          : {
              ...runtimes.reduce((sum, t) => addTotals(sum, t), zeroTotals()),
              costUsd: round(runtimes.reduce((n, t) => n + t.costUsd, 0)),
            };
      const report: UsageReport = {
        period,
        status: billing.status,
        limit: TIER_LIMITS[user.tier].requestsPerPeriod,
        totals,
        byRuntime: runtimes,
        byAgent: byAgent.map((a) => ({ ...costed(a), name: names.get(a.agentId) ?? null })),
        byEndUser,
      };
      return c.json(report);
    })
    .get(
      '/agents/:agentId/metrics',
      validate('param', z.object({ agentId: Id })),
      validate('query', MetricsQuery),
      async (c) => {
        const { from, to } = c.req.valid('query');
        const rows = await store.listHourlyMetrics({
          ownerId: c.get('userId'),
          agentId: c.req.valid('param').agentId,
          from,
          to,
        });
        // one point per hour, the runtimes of an hour summed
        const byHour = new Map<string, UsageTotals>();
        for (const { hour, agentId: _a, runtime: _r, ...t } of rows) {
          if (!byHour.has(hour)) byHour.set(hour, zeroTotals());
          addTotals(byHour.get(hour)!, t);
        }
        const items: MetricPoint[] = [...byHour].map(([hour, t]) => ({
          hour,
          ...t,
          avgLatencyMs: t.requests > 0 ? round(t.durationMs / t.requests) : null,
        }));
        return c.json({ from: from.toISOString(), to: to.toISOString(), items });
      },
    );
}

const round = (n: number) => Math.round(n * 1e4) / 1e4;

/** The names of the owner's agents among `ids` (deleted ones have none). */
async function agentNames(deps: ApiDeps, ownerId: string, ids: Set<string>): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  let cursor: string | undefined;
  // an owner's agents, a page at a time, until every id is named or the list ends (bounded)
  for (let page = 0; page < 50 && names.size < ids.size; page++) {
    const { items, nextCursor } = await deps.store.listAgents(ownerId, { limit: 100, ...(cursor ? { cursor } : {}) });
    for (const a of items) if (ids.has(a.id)) names.set(a.id, a.name);
    if (!nextCursor) break;
    cursor = nextCursor;
  }
  return names;
}
