import {
  agentsToRebalance,
  notFound,
  type AddOn,
  type BillingState,
  type Tier,
  type User,
} from '../../contracts/index.js';
import type { ChangeUserPlanInput, PlanChange, UserStore } from '../port/index.js';
import { insertAudit } from './audit.js';
import type { SqlClient, SqlExecutor } from './client.js';
import { iso, isoOrNull, json, notifyChange, notifyServing, type Row } from './rows.js';

const BILLING_COLUMNS: Record<keyof BillingState, string> = {
  customerId: 'billing_customer_id',
  subscriptionId: 'billing_subscription_id',
  subscriptionItemId: 'billing_subscription_item_id',
  status: 'billing_status',
  graceEndsAt: 'billing_grace_ends_at',
};
const BILLING_KEYS = Object.keys(BILLING_COLUMNS) as (keyof BillingState)[];

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
      graceEndsAt: isoOrNull(r.billing_grace_ends_at),
    },
    createdAt: iso(r.created_at),
  };
}

const sortedAddOns = (addOns: readonly AddOn[]) => [...new Set(addOns)].sort();

/** The plan change inside a transaction: the user's row is locked first, so changes of one user apply in turn. */
async function changePlan(tx: SqlExecutor, input: ChangeUserPlanInput): Promise<PlanChange> {
  const { rows } = await tx.query('select * from users where id = $1 for update', [input.userId]);
  if (!rows[0]) throw notFound('user');
  const before = toUser(rows[0]);
  if (input.ifGraceEndsAt !== undefined && before.billing.graceEndsAt !== input.ifGraceEndsAt)
    return { user: before, applied: false, changed: false, paused: [], resumed: [] };

  const tier = input.tier ?? before.tier;
  const addOns = input.addOns ? sortedAddOns(input.addOns) : before.addOns;
  const billing = { ...before.billing };
  for (const k of BILLING_KEYS) {
    const value = input.billing?.[k];
    if (value !== undefined) billing[k] = k === 'graceEndsAt' && value !== null ? iso(value) : value;
  }
  const user: User = { ...before, tier, addOns, billing };
  const userChanged = JSON.stringify(user) !== JSON.stringify(before);
  if (userChanged) {
    await tx.query(
      `update users set tier = $2, add_ons = $3::jsonb, ${BILLING_KEYS.map((k, i) => `${BILLING_COLUMNS[k]} = $${i + 4}`).join(', ')}
       where id = $1`,
      [input.userId, tier, JSON.stringify(addOns), ...BILLING_KEYS.map((k) => billing[k])],
    );
  }

  const { rows: agents } = await tx.query(
    `select id, runtime, paused_at, created_at from agents where owner_id = $1 and status = 'active' for update`,
    [input.userId],
  );
  const { pause, resume } = agentsToRebalance(
    { tier, addOns },
    agents.map((a) => ({
      id: a.id as string,
      runtime: a.runtime as User['defaultRuntime'],
      paused: a.paused_at != null,
      createdAt: Date.parse(iso(a.created_at)),
    })),
  );
  if (pause.length)
    await tx.query(`update agents set paused_at = $2, updated_at = $2 where id = any($1::text[])`, [pause, input.now]);
  if (resume.length)
    await tx.query(`update agents set paused_at = null, updated_at = $2 where id = any($1::text[])`, [
      resume,
      input.now,
    ]);
  for (const id of [...pause, ...resume]) {
    await notifyServing(tx, id);
    await notifyChange(tx, { ownerId: input.userId, kind: 'agent', id });
  }

  const changed = userChanged || pause.length > 0 || resume.length > 0;
  if (changed && input.audit) {
    const { audit } = input;
    const entry = { ownerId: input.userId, actor: audit.actor, now: input.now };
    await insertAudit(tx, {
      ...entry,
      action: audit.action,
      targetType: audit.targetType,
      targetId: audit.targetId,
      details: { ...audit.details, paused: pause, resumed: resume },
    });
    for (const [ids, action] of [
      [pause, 'agent.paused'],
      [resume, 'agent.resumed'],
    ] as const)
      for (const id of ids)
        await insertAudit(tx, { ...entry, action, targetType: 'agent', targetId: id, details: { tier, addOns } });
  }
  return { user, applied: true, changed, paused: pause, resumed: resume };
}

export function sqlUsers(db: SqlClient): UserStore {
  const getUser = async (userId: string): Promise<User> => {
    const { rows } = await db.query('select * from users where id = $1', [userId]);
    if (!rows[0]) throw notFound('user');
    return toUser(rows[0]);
  };
  const changeUserPlan = (input: ChangeUserPlanInput) => db.transaction((tx) => changePlan(tx, input));
  return {
    async ensureUser(userId, now, tier = 'free') {
      await db.query('insert into users (id, tier, created_at) values ($1, $3, $2) on conflict (id) do nothing', [
        userId,
        now,
        tier,
      ]);
    },

    getUser,

    changeUserPlan,

    setUserTier: async (input) => (await changeUserPlan(input)).user,

    setUserAddOns: async (input) => (await changeUserPlan(input)).user,

    async setUserBilling(input) {
      const keys = BILLING_KEYS.filter((k) => k in input.billing);
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
