import { defineQuery } from '@temporalio/workflow';

/** What a close did, owner by owner, summed. */
export interface BillingCloseCounts {
  /** Owners visited: usage in the period, or a subscription item. */
  owners: number;
  /** Periods this close froze (the others were closed before, by an earlier close of the period). */
  closedNow: number;
  /**
   * Usage reports this close sent to Lemon Squeezy and recorded. `reported + alreadyReported`
   * is exact; the split is not after a worker died: what it reported after its last heartbeat
   * is found by the retry and counted as `alreadyReported`.
   */
  reported: number;
  /** Periods whose report was recorded before (an earlier close, or a dead worker's attempt): not sent again. */
  alreadyReported: number;
  /** Closed, not reported: the owner has no Lemon Squeezy subscription item. */
  noSubscription: number;
  /** Closed, not reported: a subscription item, but no requests in the period (nothing to set). */
  nothingToReport: number;
  /** Closed, not reported: the owner has a subscription item but billing is off on this platform. */
  billingOff: number;
  /** Closed, not reported: Lemon Squeezy refused the report for good (see `refusals`). */
  refused: number;
}

export const zeroCloseCounts = (): BillingCloseCounts => ({
  owners: 0,
  closedNow: 0,
  reported: 0,
  alreadyReported: 0,
  noSubscription: 0,
  nothingToReport: 0,
  billingOff: 0,
  refused: 0,
});

export function addCloseCounts(into: BillingCloseCounts, more: BillingCloseCounts): BillingCloseCounts {
  for (const k of Object.keys(into) as (keyof BillingCloseCounts)[]) into[k] += more[k];
  return into;
}

/** A report Lemon Squeezy refused for good; running the close again retries it. */
export interface BillingReportRefusal {
  ownerId: string;
  subscriptionItemId: string;
  status: number | null;
  message: string;
}

/** Refusals kept in results and heartbeats; the count goes on past it. */
export const MAX_REFUSALS_KEPT = 50;

/** Carried from run to run across continue-as-new; absent on the first run. */
export interface BillingCloseState {
  /** When the close started (ISO); periods it freezes record it as their close time. */
  startedAt: string;
  /** The last owner of the last page done; null before the first page. */
  after: string | null;
  counts: BillingCloseCounts;
  refusals: BillingReportRefusal[];
  pages: number;
  /** Workflow runs so far, this one included. */
  runs: number;
}

export interface BillingCloseInput {
  /** The UTC month to close, `YYYY-MM`; it must have ended. */
  period: string;
  /** Owners per activity call; defaults to BILLING_CLOSE_PAGE_SIZE. */
  pageSize?: number;
  /** Pages per run before continue-as-new; defaults to BILLING_CLOSE_PAGES_PER_RUN. */
  pagesPerRun?: number;
  /** Owners closed and reported at once within a page; defaults to BILLING_CLOSE_CONCURRENCY. */
  concurrency?: number;
  /** Tests shorten these: how soon a dead worker's page is retried elsewhere, and the first retry's wait. */
  heartbeatTimeoutMs?: number;
  retryInitialIntervalMs?: number;
  /** Set by the workflow itself when it continues as new. */
  state?: BillingCloseState;
}

export interface BillingCloseResult {
  period: string;
  /** Every owner visited (false while it runs, in the progress query). */
  done: boolean;
  startedAt: string;
  counts: BillingCloseCounts;
  /** The first MAX_REFUSALS_KEPT refusals. */
  refusals: BillingReportRefusal[];
  pages: number;
  runs: number;
}

/** The counts so far, across runs; operators read it in Temporal UI. */
export const billingCloseProgressQuery = defineQuery<BillingCloseResult>('progress');

export interface BillingMonthEndInput {
  /** The period to close; absent (as the Schedule starts it), the month before the run's start. */
  period?: string;
}

export interface BillingMonthEndResult {
  period: string;
  workflowId: string;
  /** False when that period's close was already running or had completed. */
  started: boolean;
}
