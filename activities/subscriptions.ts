import type { AddOn, BillingState, Tier } from '../lib/contracts/index.js';
import type { Store } from '../lib/store/index.js';
import { storeCall } from './calls.js';

// Lemon Squeezy subscription changes applied to a user (workflows/billing-webhook). Each is one
// store transaction (`changeUserPlan`) that writes its audit entry only when something changed,
// so a retry, or the same delivery applied again, changes nothing more.

export interface SubscriptionActivityDeps {
  store: Store;
}

/** Who the change is audited as, and why. */
interface Cause {
  /** The workflow that applies the event (its id names the delivery). */
  workflowId: string;
  event: string;
  /** Workflow time (ISO). */
  now: string;
}

export interface ApplySubscriptionInput extends Cause {
  userId: string;
  /** The tier to be on; absent: unchanged. */
  tier?: Tier;
  /** An add-on to add (`true`) or remove (`false`). */
  addOn?: { name: AddOn; on: boolean };
  billing?: Partial<BillingState>;
}

export interface PlanResult {
  applied: boolean;
  changed: boolean;
  tier: Tier;
  paused: string[];
  resumed: string[];
}

export interface OpenGraceInput extends Cause {
  userId: string;
  /** When a new grace period would end (ISO). */
  endsAt: string;
}

export interface OpenGraceResult {
  /** When the user's grace period ends: this one, or one already running. */
  endsAt: string;
  opened: boolean;
}

export interface EndGraceInput extends Cause {
  userId: string;
  /** The grace period that ran out; nothing happens if the user's is no longer this one. */
  endsAt: string;
}

export interface RecoverPaymentInput extends Cause {
  userId: string;
  status: string | null;
}

const auditOf = (c: Cause, userId: string, action: string, details: Record<string, unknown> = {}) => ({
  actor: 'lemonsqueezy',
  action,
  targetType: 'user',
  targetId: userId,
  details: { event: c.event, workflowId: c.workflowId, ...details },
});

const resultOf = (r: Awaited<ReturnType<Store['changeUserPlan']>>): PlanResult => ({
  applied: r.applied,
  changed: r.changed,
  tier: r.user.tier,
  paused: r.paused,
  resumed: r.resumed,
});

export function createSubscriptionActivities({ store }: SubscriptionActivityDeps) {
  return {
    /**
     * Puts the user on the tier, add-ons and billing state the event says. Safe to retry: the
     * change is absolute (a tier, a status), and a repeat writes nothing. An unknown user is a
     * permanent failure (NotFound).
     */
    async applySubscription(input: ApplySubscriptionInput): Promise<PlanResult> {
      return storeCall(async () => {
        let addOns: AddOn[] | undefined;
        if (input.addOn) {
          const { addOns: current } = await store.getUser(input.userId);
          addOns = input.addOn.on ? [...current, input.addOn.name] : current.filter((a) => a !== input.addOn!.name);
        }
        const r = await store.changeUserPlan({
          userId: input.userId,
          ...(input.tier ? { tier: input.tier } : {}),
          ...(addOns ? { addOns } : {}),
          ...(input.billing ? { billing: input.billing } : {}),
          now: new Date(input.now),
          audit: auditOf(input, input.userId, 'billing.subscription_applied', {
            tier: input.tier ?? null,
            addOn: input.addOn ?? null,
            status: input.billing?.status ?? null,
          }),
        });
        return resultOf(r);
      });
    },

    /**
     * Opens the user's grace period unless one runs (then answers that one's end): the store
     * writes only while none runs, so two failed payments open one. Safe to retry for the same reason.
     */
    async openGracePeriod(input: OpenGraceInput): Promise<OpenGraceResult> {
      return storeCall(async () => {
        const r = await store.changeUserPlan({
          userId: input.userId,
          billing: { graceEndsAt: input.endsAt, status: 'past_due' },
          ifGraceEndsAt: null,
          now: new Date(input.now),
          audit: auditOf(input, input.userId, 'billing.grace_started', { endsAt: input.endsAt }),
        });
        return { endsAt: r.user.billing.graceEndsAt ?? input.endsAt, opened: r.applied };
      });
    },

    /**
     * The grace period ran out: the user drops to free and agents past it are paused, only if
     * the user's grace period is still this one (a recovery clears it). Safe to retry: a second
     * call finds it gone.
     */
    async endGracePeriod(input: EndGraceInput): Promise<PlanResult> {
      return storeCall(async () =>
        resultOf(
          await store.changeUserPlan({
            userId: input.userId,
            tier: 'free',
            billing: { graceEndsAt: null, status: 'unpaid' },
            ifGraceEndsAt: input.endsAt,
            now: new Date(input.now),
            audit: auditOf(input, input.userId, 'billing.grace_ended', { endsAt: input.endsAt, tier: 'free' }),
          }),
        ),
      );
    },

    /** A payment went through: any grace period is over and the subscription is active again. Safe to retry. */
    async recoverPayment(input: RecoverPaymentInput): Promise<PlanResult> {
      return storeCall(async () =>
        resultOf(
          await store.changeUserPlan({
            userId: input.userId,
            billing: { graceEndsAt: null, status: 'active' },
            now: new Date(input.now),
            audit: auditOf(input, input.userId, 'billing.payment_recovered'),
          }),
        ),
      );
    },
  };
}
