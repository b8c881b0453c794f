import { notFound, type AddOn, type BillingState, type Tier, type User } from '../../contracts/index.js';
import type { UserStore } from '../port/index.js';
import type { SqlClient } from './client.js';
import { iso, json, type Row } from './rows.js';

const BILLING_COLUMNS: Record<keyof BillingState, string> = {
  customerId: 'billing_customer_id',
  subscriptionId: 'billing_subscription_id',
  subscriptionItemId: 'billing_subscription_item_id',
  status: 'billing_status',
};

function toUser(r: Row): User {
  return {
    id: r.id as string,
    tier: r.tier as Tier,
    addOns: json<AddOn[] | null>(r.add_ons) ?? [],
    defaultRuntime: r.default_runtime as User['defaultRuntime'],
    billing: {
      customerId: (r.billing_customer_id as string | null) ?? null,
      subscriptionId: (r.billing_subscription_id as string | null) ?? null,
      subscriptionItemId: (r.billing_subscription_item_id as string | null) ?? null,
      status: (r.billing_status as string | null) ?? null,
    },
    createdAt: iso(r.created_at),
  };
}

export function sqlUsers(db: SqlClient): UserStore {
  const getUser = async (userId: string): Promise<User> => {
    const { rows } = await db.query('select * from users where id = $1', [userId]);
    if (!rows[0]) throw notFound('user');
    return toUser(rows[0]);
  };
  return {
    async ensureUser(userId, now, tier = 'free') {
      await db.query('insert into users (id, tier, created_at) values ($1, $3, $2) on conflict (id) do nothing', [
        userId,
        now,
        tier,
      ]);
    },

    getUser,

    async setUserTier(input) {
      const { rows } = await db.query('update users set tier = $2 where id = $1 returning *', [
        input.userId,
        input.tier,
      ]);
      if (!rows[0]) throw notFound('user');
      return toUser(rows[0]);
    },

    async setUserAddOns(input) {
      const { rows } = await db.query('update users set add_ons = $2::jsonb where id = $1 returning *', [
        input.userId,
        JSON.stringify([...new Set(input.addOns)].sort()),
      ]);
      if (!rows[0]) throw notFound('user');
      return toUser(rows[0]);
    },

    async setUserBilling(input) {
      const keys = (Object.keys(BILLING_COLUMNS) as (keyof BillingState)[]).filter((k) => k in input.billing);
      if (keys.length === 0) return getUser(input.userId);
      const sets = keys.map((k, i) => `${BILLING_COLUMNS[k]} = $${i + 2}`).join(', ');
      const { rows } = await db.query(`update users set ${sets} where id = $1 returning *`, [
        input.userId,
        ...keys.map((k) => input.billing[k] ?? null),
      ]);
      if (!rows[0]) throw notFound('user');
      return toUser(rows[0]);
    },
  };
}
