import {
  ApplicationFailure,
  continueAsNew,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../../activities/index.js';
import { WorkflowKindKey } from '../../lib/temporal/search-attributes.js';
import { PermanentFailure, PERMANENT_FAILURES as PERMANENT } from '../failures.js';
import {
  BILLING_CLOSE_CONCURRENCY,
  BILLING_CLOSE_PAGE_SIZE,
  BILLING_CLOSE_PAGES_PER_RUN,
  BILLING_CLOSE_WORKFLOW_KIND,
  billingCloseWorkflowId,
  isPeriod,
  periodEndMs,
  previousPeriod,
} from './config.js';
import {
  addCloseCounts,
  billingCloseProgressQuery,
  MAX_REFUSALS_KEPT,
  zeroCloseCounts,
  type BillingCloseInput,
  type BillingCloseResult,
  type BillingCloseState,
  type BillingMonthEndInput,
  type BillingMonthEndResult,
} from './messages.js';

/**
 * billing-close-<period> (DESIGN.md §6): visits every owner with usage in the period or a
 * Lemon Squeezy subscription item, a page at a time, in owner id order. For each: the period
 * is finalized from its hourly metrics and priced per runtime (the store does both, once),
 * then its requests are reported to Lemon Squeezy with `action: 'set'` unless a report is
 * recorded already, and the report id recorded. Owners without a subscription item are closed,
 * not reported. Continues as new every few pages, carrying its position and counts, so 10,000
 * owners or a million keep each run's history small. Returns, and answers the `progress`
 * query with, the counts so far.
 */
export async function billingCloseWorkflow(input: BillingCloseInput): Promise<BillingCloseResult> {
  const { period } = input;
  const state: BillingCloseState = input.state ?? {
    startedAt: new Date().toISOString(),
    after: null,
    counts: zeroCloseCounts(),
    refusals: [],
    pages: 0,
    runs: 1,
  };
  let done = false;
  const report = (): BillingCloseResult => ({
    period,
    done,
    startedAt: state.startedAt,
    counts: { ...state.counts },
    refusals: [...state.refusals],
    pages: state.pages,
    runs: state.runs,
  });
  setHandler(billingCloseProgressQuery, report);

  if (!isPeriod(period))
    throw ApplicationFailure.nonRetryable(`"${period}" is not a period (YYYY-MM)`, PermanentFailure.InvalidInput);
  // Closing a month that has not ended would freeze it short: its later usage would never be billed.
  if (Date.now() < periodEndMs(period))
    throw ApplicationFailure.nonRetryable(
      `billing period ${period} has not ended yet; it can be closed from ${new Date(periodEndMs(period)).toISOString()}`,
      PermanentFailure.PeriodNotEnded,
    );

  /**
   * One page of owners per call: closes and reports each, heartbeating its position, so a
   * worker that dies is noticed within the heartbeat timeout (1 minute) and another resumes
   * the page where it stopped. Lemon Squeezy's 5xx and 429 fail the call retryably: it is
   * retried with backoff up to a minute apart, patiently (50 attempts, about 45 minutes of an
   * outage), and resumes; a refused API key (BillingNotAuthorized) or a store refusal fails
   * the close at once. Every retry is safe (activities/billing.ts).
   */
  const billing = proxyActivities<Activities>({
    startToCloseTimeout: '30m',
    heartbeatTimeout: input.heartbeatTimeoutMs ?? '1m',
    retry: {
      initialInterval: input.retryInitialIntervalMs ?? '1s',
      backoffCoefficient: 2,
      maximumInterval: '1m',
      maximumAttempts: 50,
      nonRetryableErrorTypes: PERMANENT,
    },
  });

  const pagesPerRun = input.pagesPerRun ?? BILLING_CLOSE_PAGES_PER_RUN;
  for (let pagesThisRun = 0; ; pagesThisRun++) {
    if (pagesThisRun >= pagesPerRun || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof billingCloseWorkflow>({
        ...input,
        state: { ...state, runs: state.runs + 1 },
      });
    }
    const page = await billing.closeBillingPage({
      period,
      after: state.after,
      pageSize: input.pageSize ?? BILLING_CLOSE_PAGE_SIZE,
      concurrency: input.concurrency ?? BILLING_CLOSE_CONCURRENCY,
      now: new Date().toISOString(),
    });
    addCloseCounts(state.counts, page.counts);
    state.refusals.push(...page.refusals.slice(0, MAX_REFUSALS_KEPT - state.refusals.length));
    state.pages += 1;
    state.after = page.next;
    if (page.next === null) break;
  }
  done = true;
  return report();
}

/**
 * What the monthly Schedule starts (as `billing-month-end-<scheduled time>`): works out the
 * month that just ended and starts its `billing-close-<period>`, abandoned to run on its own.
 * The fixed child id is what keeps one close per period: if `admin -- close-period` started it
 * first, or it completed, the start is refused and this returns `started: false`; a close that
 * failed may be started again.
 */
export async function billingMonthEndWorkflow(input: BillingMonthEndInput = {}): Promise<BillingMonthEndResult> {
  const period = input.period ?? previousPeriod(new Date());
  const workflowId = billingCloseWorkflowId(period);
  try {
    await startChild(billingCloseWorkflow, {
      workflowId,
      args: [{ period }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      typedSearchAttributes: [{ key: WorkflowKindKey, value: BILLING_CLOSE_WORKFLOW_KIND }],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { period, workflowId, started: false };
    throw err;
  }
  return { period, workflowId, started: true };
}
