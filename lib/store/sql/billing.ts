import { AppError, notFound, type BillingPeriod } from '../../contracts/index.js';
import type { BillingStore, PeriodRef } from '../port/index.js';
import type { SqlClient } from './client.js';
import { isoOrNull, totalsOf } from './rows.js';

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
        usageReportId: null,
        closedAt: null,
      };
    return {
      ownerId: r.owner_id as string,
      period: r.period as string,
      status: r.status as BillingPeriod['status'],
      totals: r.status === 'closed' ? totalsOf(r) : null,
      usageReportId: (r.usage_report_id as string | null) ?? null,
      closedAt: isoOrNull(r.closed_at),
    };
  };

  return {
    getBillingPeriod,

    async closeBillingPeriod(input) {
      const { rows: users } = await db.query('select 1 from users where id = $1', [input.ownerId]);
      if (!users[0]) throw notFound('user');
      const closedNow = await db.transaction(async (tx) => {
        await tx.query(
          `insert into billing_periods (owner_id, period, status) values ($1, $2, 'open') on conflict do nothing`,
          [input.ownerId, input.period],
        );
        // The row lock makes a concurrent close wait, then see 'closed' and change nothing.
        const { rows } = await tx.query(
          `update billing_periods b set status = 'closed', closed_at = $3,
             requests = t.requests, errors = t.errors, duration_ms = t.duration_ms, input_bytes = t.input_bytes, output_bytes = t.output_bytes
           from (select coalesce(sum(requests), 0) as requests, coalesce(sum(errors), 0) as errors, coalesce(sum(duration_ms), 0) as duration_ms,
                        coalesce(sum(input_bytes), 0) as input_bytes, coalesce(sum(output_bytes), 0) as output_bytes
                 from usage where owner_id = $1 and period = $2) t
           where b.owner_id = $1 and b.period = $2 and b.status = 'open'
           returning b.owner_id`,
          [input.ownerId, input.period, input.now],
        );
        return rows.length === 1;
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
  };
}
