import {
  condition,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../../activities/index.js';
import type { PlanResult } from '../../activities/subscriptions.js';
import { OwnerIdKey, WorkflowKindKey } from '../../lib/temporal/search-attributes.js';
import { PERMANENT_FAILURES as PERMANENT } from '../failures.js';
import { BILLING_GRACE_WORKFLOW_KIND, billingGraceWorkflowId } from './config.js';
import {
  billingGraceQuery,
  billingWebhookProgressQuery,
  paymentRecoveredSignal,
  type BillingGraceInput,
  type BillingGraceState,
  type BillingWebhookInput,
  type BillingWebhookProgress,
  type BillingWebhookResult,
} from './messages.js';

/**
 * Store writes (one transaction each, idempotent): quick, and patient when the store is down —
 * a paid-for delivery must not be lost, and Lemon Squeezy does not resend one we acknowledged.
 */
const store = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '5m',
    maximumAttempts: 30,
    nonRetryableErrorTypes: PERMANENT,
  },
});

/** Statuses that mean the subscription is paid for (cancelled: until it ends, when `expired` comes). */
const PAID = new Set(['active', 'on_trial', 'cancelled']);
/** Statuses that mean it is not: the user is on free. `past_due` changes no tier (a grace period decides). */
const UNPAID = new Set(['paused', 'unpaid', 'expired']);

/**
 * ls-<event key>: applies one verified Lemon Squeezy delivery to its user (DESIGN.md §6).
 * - created / updated / resumed: the tier the variant buys while paid for, free once unpaid;
 *   the add-on's variant turns the add-on on or off; billing ids and status recorded.
 * - cancelled: the status only (the tier is paid for until `expired`).
 * - expired: free (or the add-on off).
 * - payment_failed: opens the user's grace period and starts `billing-grace-<userId>`, which
 *   ends in a downgrade unless a payment comes first.
 * - payment_success / payment_recovered: ends any grace period and signals its workflow.
 * Every change pauses or resumes agents and is audited in the same transaction (the store's
 * `changeUserPlan`). Time comes from the workflow, so a replay computes the same instants.
 */
export async function billingWebhookWorkflow(input: BillingWebhookInput): Promise<BillingWebhookResult> {
  let progress: BillingWebhookProgress = { state: 'applying' };
  setHandler(billingWebhookProgressQuery, () => progress);
  const cause = { workflowId: workflowInfo().workflowId, event: input.eventName, now: new Date().toISOString() };
  const { userId } = input;
  const base = { eventName: input.eventName, userId, grace: null };
  const fromPlan = (r: PlanResult): BillingWebhookResult => ({
    ...base,
    outcome: r.changed ? 'plan_changed' : 'unchanged',
    tier: r.tier,
    paused: r.paused,
    resumed: r.resumed,
  });
  const ids = {
    ...(input.subscriptionId !== null ? { subscriptionId: input.subscriptionId } : {}),
    ...(input.customerId !== null ? { customerId: input.customerId } : {}),
    ...(input.subscriptionItemId !== null ? { subscriptionItemId: input.subscriptionItemId } : {}),
  };
  const status = input.status ?? '';

  let result: BillingWebhookResult;
  switch (input.eventName) {
    case 'subscription_created':
    case 'subscription_updated':
    case 'subscription_resumed':
    case 'subscription_expired': {
      const paid = input.eventName !== 'subscription_expired' && PAID.has(status);
      const unpaid = input.eventName === 'subscription_expired' || UNPAID.has(status);
      if (input.addOn) {
        result = fromPlan(
          await store.applySubscription({
            ...cause,
            userId,
            ...(paid || unpaid ? { addOn: { name: input.addOn, on: paid } } : {}),
          }),
        );
        break;
      }
      const tier = paid ? (input.tier ?? undefined) : unpaid ? 'free' : undefined;
      result = fromPlan(
        await store.applySubscription({
          ...cause,
          userId,
          ...(tier ? { tier } : {}),
          billing: { ...ids, status: input.status, ...(unpaid ? { graceEndsAt: null } : {}) },
        }),
      );
      break;
    }
    case 'subscription_cancelled':
      result = fromPlan(
        await store.applySubscription({
          ...cause,
          userId,
          ...(input.addOn ? {} : { billing: { ...ids, status: input.status } }),
        }),
      );
      break;
    case 'subscription_payment_failed': {
      const grace = await store.openGracePeriod({
        ...cause,
        userId,
        endsAt: new Date(Date.now() + input.graceMs).toISOString(),
      });
      const workflowId = billingGraceWorkflowId(userId);
      try {
        await startChild(billingGraceWorkflow, {
          workflowId,
          args: [{ userId, endsAt: grace.endsAt }],
          parentClosePolicy: 'ABANDON',
          typedSearchAttributes: [
            { key: OwnerIdKey, value: userId },
            { key: WorkflowKindKey, value: BILLING_GRACE_WORKFLOW_KIND },
          ],
        });
      } catch (err) {
        // the user's grace period already runs: this failed payment joins it
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      result = {
        ...base,
        outcome: 'grace_opened',
        tier: null,
        paused: [],
        resumed: [],
        grace: { workflowId, endsAt: grace.endsAt },
      };
      break;
    }
    case 'subscription_payment_success':
    case 'subscription_payment_recovered': {
      const r = await store.recoverPayment({ ...cause, userId, status: input.status });
      try {
        await getExternalWorkflowHandle(billingGraceWorkflowId(userId)).signal(paymentRecoveredSignal);
      } catch {
        // no grace period runs (the usual monthly payment): nothing to end
      }
      result = { ...fromPlan(r), outcome: r.changed ? 'payment_recovered' : 'unchanged' };
      break;
    }
  }
  progress = { state: 'done', result };
  return result;
}

/**
 * billing-grace-<userId>: a failed payment's grace period — a durable timer raced against a
 * recovery signal. If no payment comes before `endsAt`, the user drops to free and agents past
 * it are paused (only if the user's grace period is still this one: a recovery that reached the
 * store first already ended it).
 */
export async function billingGraceWorkflow(input: BillingGraceInput): Promise<BillingGraceState> {
  let recovered = false;
  let state: BillingGraceState = { state: 'waiting', endsAt: input.endsAt };
  setHandler(billingGraceQuery, () => state);
  setHandler(paymentRecoveredSignal, () => {
    recovered = true;
  });
  await condition(() => recovered, Math.max(1, Date.parse(input.endsAt) - Date.now()));
  if (recovered) {
    state = { state: 'recovered', endsAt: input.endsAt };
    return state;
  }
  const r = await store.endGracePeriod({
    userId: input.userId,
    endsAt: input.endsAt,
    workflowId: workflowInfo().workflowId,
    event: 'grace_period_ended',
    now: new Date().toISOString(),
  });
  state = r.applied
    ? { state: 'downgraded', endsAt: input.endsAt, paused: r.paused }
    : { state: 'superseded', endsAt: input.endsAt };
  return state;
}
