import {
  addTotals,
  AppError,
  estimateCostUsd,
  notFound,
  periodBounds,
  zeroTotals,
  type BillingPeriod,
  type Runtime,
} from '../../contracts/index.js';
import type { BillingStore, PeriodRef } from '../port/index.js';
import type { SqlClient } from './client.js';
import { isoOrNull, n, totalsOf, TOTAL_COLUMNS } from './rows.js';

export function sqlBilling(db: SqlClient): BillingStore {
  const getBillingPeriod = async (input: PeriodRef): Promise<BillingPeriod> => {
    const { rows } = await db.query(`select * from billing_periods where owner_id = $1 and period = $2`, [
      input.ownerId,
      input.period,
    ]);
    const r = rows[0];
    // A period without a row has not been closed: it is open and has no frozen totals yet.
    if (!r)
      return {
        ownerId: input.ownerId,
        period: input.period,
        status: 'open',
        totals: null,
        costUsd: null,
        usageReportId: null,
        closedAt: null,
      };
    const closed = r.status === 'closed';
    return {
      ownerId: r.owner_id as string,
      period: r.period as string,
      status: r.status as BillingPeriod['status'],
      totals: closed ? totalsOf(r) : null,
      costUsd: closed ? n(r.cost_usd) : null,
      usageReportId: (r.usage_report_id as string | null) ?? null,
      closedAt: isoOrNull(r.closed_at),
    };
  };

  return {
    getBillingPeriod,

    async closeBillingPeriod(input) {
      const { rows: users } = await db.query('select 1 from users where id = $1', [input.ownerId]);
      if (!users[0]) throw notFound('user');
      const { start, end } = periodBounds(input.period);
      const closedNow = await db.transaction(async (tx) => {
        await tx.query(
          `insert into billing_periods (owner_id, period, status) values ($1, $2, 'open') on conflict do nothing`,
          [input.ownerId, input.period],
        );
        // The row lock makes a concurrent close wait, then see 'closed' and change nothing.
        const { rows: open } = await tx.query(
          `select 1 from billing_periods where owner_id = $1 and period = $2 and status = 'open' for update`,
          [input.ownerId, input.period],
        );
        if (!open[0]) return false;
        // Finalized from the hourly metrics: the period's totals are their sum, priced per runtime.
        const { rows: byRuntime } = await tx.query(
          `select runtime, ${TOTAL_COLUMNS.map((s) => `sum(${s}) as ${s}`).join(', ')} from hourly_metrics
           where owner_id = $1 and hour >= $2 and hour < $3 group by runtime`,
          [input.ownerId, start, end],
        );
        const totals = zeroTotals();
        let cost = 0;
        for (const r of byRuntime) {
          const t = totalsOf(r);
          addTotals(totals, t);
          cost += estimateCostUsd(r.runtime as Runtime, t);
        }
        await tx.query(
          `update billing_periods set status = 'closed', closed_at = $3, requests = $4, errors = $5, duration_ms = $6,
             compute_ms = $7, input_bytes = $8, output_bytes = $9, input_tokens = $10, output_tokens = $11, cost_usd = $12
           where owner_id = $1 and period = $2`,
          [
            input.ownerId,
            input.period,
            input.now,
            totals.requests,
            totals.errors,
            totals.durationMs,
            totals.computeMs,
            totals.inputBytes,
            totals.outputBytes,
            totals.inputTokens,
            totals.outputTokens,
            Math.round(cost * 1e4) / 1e4,
          ],
        );
        return true;
      });
      return { period: await getBillingPeriod(input), closedNow };
    },

    async recordUsageReport(input) {
      const { rows } = await db.query(
        `update billing_periods set usage_report_id = $3, reported_at = $4
         where owner_id = $1 and period = $2 and status = 'closed' and usage_report_id is null returning 1 as ok`,
        [input.ownerId, input.period, input.reportId, input.now],
      );
      if (rows.length === 1) return true;
      const current = await getBillingPeriod(input);
      if (current.status !== 'closed') throw new AppError('conflict', `billing period ${input.period} is not closed`);
      return false;
    },

    async listBillableOwners(input) {
      // Keyset on the users' primary key; the usage lookup is on its primary key (owner, period, runtime).
      const { rows } = await db.query(
        `select u.id, u.billing_subscription_item_id from users u
         where ($2::text is null or u.id > $2)
           and (u.billing_subscription_item_id is not null
                or exists (select 1 from usage g where g.owner_id = u.id and g.period = $1))
         order by u.id limit $3`,
        // one more than the page: whether there is a next page
        [input.period, input.after ?? null, input.limit + 1],
      );
      const owners = rows.slice(0, input.limit).map((r) => ({
        ownerId: r.id as string,
        subscriptionItemId: (r.billing_subscription_item_id as string | null) ?? null,
      }));
      return { owners, next: rows.length > input.limit ? owners.at(-1)!.ownerId : null };
    },
  };
}
