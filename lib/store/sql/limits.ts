import { notFound, TIER_LIMITS, type Tier } from '../../contracts/index.js';
import type { LimitStore } from '../port/index.js';
import type { SqlClient } from './client.js';
import { n } from './rows.js';

export function sqlLimits(db: SqlClient): LimitStore {
  return {
    leaseRequests(input) {
      return db.transaction(async (tx) => {
        const { rows: users } = await tx.query<{ tier: Tier }>('select tier from users where id = $1', [input.ownerId]);
        if (!users[0]) throw notFound('user');
        const limit = TIER_LIMITS[users[0].tier].requestsPerPeriod;
        if (limit === null) return { granted: input.want, limit: null, leased: 0 };
        await tx.query(
          `insert into request_counters (owner_id, period, leased) values ($1, $2, 0) on conflict do nothing`,
          [input.ownerId, input.period],
        );
        // The row lock orders every gateway's lease of this owner's period.
        const { rows } = await tx.query(
          `select leased from request_counters where owner_id = $1 and period = $2 for update`,
          [input.ownerId, input.period],
        );
        const before = n(rows[0]?.leased);
        const granted = Math.max(0, Math.min(input.want, limit - before));
        if (granted > 0)
          await tx.query(`update request_counters set leased = leased + $3 where owner_id = $1 and period = $2`, [
            input.ownerId,
            input.period,
            granted,
          ]);
        return { granted, limit, leased: before + granted };
      });
    },

    async releaseRequests(input) {
      await db.query(
        `update request_counters set leased = greatest(leased - $3, 0) where owner_id = $1 and period = $2`,
        [input.ownerId, input.period, input.count],
      );
    },
  };
}
